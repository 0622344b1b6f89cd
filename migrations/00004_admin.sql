-- +goose Up
-- Administration: who was active on which local day (for the users
-- statistics), and indexes that keep the per-day statistics queries on
-- ranges instead of table scans.

-- day is the server's local date, YYYY-MM-DD. One row per user per day.
CREATE TABLE user_activity (
    day     TEXT    NOT NULL,
    user_id INTEGER NOT NULL,
    PRIMARY KEY (day, user_id)
) WITHOUT ROWID;

CREATE INDEX stats_users_created ON users(created_at);
CREATE INDEX stats_videos_created ON videos(created_at);
CREATE INDEX invites_created ON invites(created_at);

-- +goose Down
DROP INDEX invites_created;
DROP INDEX stats_videos_created;
DROP INDEX stats_users_created;
DROP TABLE user_activity;
