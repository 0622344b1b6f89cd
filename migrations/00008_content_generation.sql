-- +goose Up
-- A number that changes, in the same transaction, with everything a video
-- list shows: the videos themselves (views included), category names and
-- tree, and the status and progress of transcoding tasks. A list answer
-- built after reading generation n is exact for as long as n holds, so the
-- server keeps the public list pages it built and serves them again until
-- the number moves (server/listcache.go).
CREATE TABLE content_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO content_generation(id, n) VALUES (1, 0);

-- +goose StatementBegin
CREATE TRIGGER videos_gen_insert AFTER INSERT ON videos BEGIN
    UPDATE content_generation SET n = n + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER videos_gen_update AFTER UPDATE ON videos BEGIN
    UPDATE content_generation SET n = n + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER videos_gen_delete AFTER DELETE ON videos BEGIN
    UPDATE content_generation SET n = n + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER categories_gen_insert AFTER INSERT ON categories BEGIN
    UPDATE content_generation SET n = n + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER categories_gen_update AFTER UPDATE ON categories BEGIN
    UPDATE content_generation SET n = n + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER categories_gen_delete AFTER DELETE ON categories BEGIN
    UPDATE content_generation SET n = n + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER tasks_gen_insert AFTER INSERT ON tasks BEGIN
    UPDATE content_generation SET n = n + 1;
END;
-- +goose StatementEnd
-- A task's log and timestamps are not listed; its status and progress are.
-- +goose StatementBegin
CREATE TRIGGER tasks_gen_update AFTER UPDATE OF status, progress, video_id ON tasks BEGIN
    UPDATE content_generation SET n = n + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER tasks_gen_delete AFTER DELETE ON tasks BEGIN
    UPDATE content_generation SET n = n + 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER tasks_gen_delete;
DROP TRIGGER tasks_gen_update;
DROP TRIGGER tasks_gen_insert;
DROP TRIGGER categories_gen_delete;
DROP TRIGGER categories_gen_update;
DROP TRIGGER categories_gen_insert;
DROP TRIGGER videos_gen_delete;
DROP TRIGGER videos_gen_update;
DROP TRIGGER videos_gen_insert;
DROP TABLE content_generation;
