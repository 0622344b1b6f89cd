-- +goose Up
-- Webhook deliveries not yet made: a task's end writes its row in the same
-- transaction that ends the task (store.FinishTask, while webhook_url is
-- set), so no end is forgotten by a crash or a restart. The server sends
-- the rows in the background and deletes each once delivered or given up
-- (server/webhook.go). Times are Unix milliseconds: test backoffs are
-- milliseconds, and a resumed retry must not fire early.
CREATE TABLE webhook_outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: a sender holds ids across writes
    task_id     INTEGER NOT NULL,                  -- no foreign key: a delivery outlives its task
    task_status TEXT    NOT NULL,                  -- completed | failed, as the task ended
    body        BLOB    NOT NULL DEFAULT x'',      -- the JSON sent, built once when first picked up
    attempts    INTEGER NOT NULL DEFAULT 0,        -- tries made so far
    next_at     INTEGER NOT NULL,                  -- the next try is not before this
    created_at  INTEGER NOT NULL
);

-- +goose Down
DROP TABLE webhook_outbox;
