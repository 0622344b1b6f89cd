-- +goose Up
-- The video library: list indexes, keyword search, chunked uploads, views.

-- One index per list order and filter (SPEC §5): published lists by status,
-- admin lists over every status, category pages, a user's own videos.
-- "Newest first" is id order (ids follow creation), and every index ends
-- in the id, so (status) serves status + newest. created_at serves the
-- statistics' date ranges.
CREATE INDEX videos_status ON videos(status);
CREATE INDEX videos_status_views ON videos(status, views);
CREATE INDEX videos_views ON videos(views);
CREATE INDEX videos_created ON videos(created_at);
CREATE INDEX videos_category ON videos(category_id, status);
CREATE INDEX videos_category_views ON videos(category_id, status, views);
CREATE INDEX videos_user ON videos(user_id);

-- Videos per status, kept by triggers: the total of an unfiltered list is a
-- lookup instead of counting 200,000 index entries.
CREATE TABLE video_status_counts (
    status INTEGER PRIMARY KEY,
    n      INTEGER NOT NULL
);
INSERT INTO video_status_counts(status, n) SELECT status, count(*) FROM videos GROUP BY status;

-- +goose StatementBegin
CREATE TRIGGER video_status_counts_insert AFTER INSERT ON videos BEGIN
    INSERT INTO video_status_counts(status, n) VALUES (new.status, 1)
        ON CONFLICT(status) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER video_status_counts_delete AFTER DELETE ON videos BEGIN
    UPDATE video_status_counts SET n = n - 1 WHERE status = old.status;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER video_status_counts_update AFTER UPDATE OF status ON videos
WHEN old.status IS NOT new.status BEGIN
    UPDATE video_status_counts SET n = n - 1 WHERE status = old.status;
    INSERT INTO video_status_counts(status, n) VALUES (new.status, 1)
        ON CONFLICT(status) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd

-- Sibling names are unique (SPEC §6); NOCASE so "Movies" and "movies" clash.
CREATE UNIQUE INDEX categories_sibling_name ON categories(parent_id, name COLLATE NOCASE);

-- Keyword search: substring matching in any script through trigrams. The
-- table indexes the videos table's own columns (external content) and the
-- triggers keep it in step; tags are indexed as their text, one char(31)
-- apart (not as the stored JSON, whose quotes and commas must not match).
CREATE VIRTUAL TABLE videos_fts USING fts5(
    title, description, tags,
    content = 'videos', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO videos_fts(videos_fts) VALUES ('rebuild');

-- +goose StatementBegin
CREATE TRIGGER videos_fts_insert AFTER INSERT ON videos BEGIN
    INSERT INTO videos_fts(rowid, title, description, tags)
    VALUES (new.id, new.title, new.description, (SELECT group_concat(value, char(31)) FROM json_each(new.tags)));
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER videos_fts_delete AFTER DELETE ON videos BEGIN
    INSERT INTO videos_fts(videos_fts, rowid, title, description, tags)
    VALUES ('delete', old.id, old.title, old.description, (SELECT group_concat(value, char(31)) FROM json_each(old.tags)));
END;
-- +goose StatementEnd

-- Only the searched columns: counting a view must not touch the index.
-- +goose StatementBegin
CREATE TRIGGER videos_fts_update AFTER UPDATE OF title, description, tags ON videos BEGIN
    INSERT INTO videos_fts(videos_fts, rowid, title, description, tags)
    VALUES ('delete', old.id, old.title, old.description, (SELECT group_concat(value, char(31)) FROM json_each(old.tags)));
    INSERT INTO videos_fts(rowid, title, description, tags)
    VALUES (new.id, new.title, new.description, (SELECT group_concat(value, char(31)) FROM json_each(new.tags)));
END;
-- +goose StatementEnd

-- An unfinished chunked upload. Its bytes live in media/uploads/<id>, a
-- file of the full size into which each chunk is written in place.
CREATE TABLE uploads (
    id           TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL,
    filename     TEXT    NOT NULL,
    filesize     INTEGER NOT NULL,
    chunk_size   INTEGER NOT NULL,
    total_chunks INTEGER NOT NULL,
    title        TEXT    NOT NULL,
    description  TEXT    NOT NULL DEFAULT '',
    category_id  INTEGER NOT NULL DEFAULT 0,
    tags         TEXT    NOT NULL DEFAULT '[]',
    sha256       TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX uploads_updated ON uploads(updated_at);

-- A chunk is recorded only after its bytes were written and synced.
CREATE TABLE upload_chunks (
    upload_id TEXT    NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    idx       INTEGER NOT NULL,
    PRIMARY KEY (upload_id, idx)
) WITHOUT ROWID;

-- The last counted view of a video by a viewer (user id or IP), for the
-- once-per-30-minutes rule; old rows are pruned.
CREATE TABLE video_views (
    video_id INTEGER NOT NULL,
    viewer   TEXT    NOT NULL,
    at       INTEGER NOT NULL,
    PRIMARY KEY (video_id, viewer)
) WITHOUT ROWID;
CREATE INDEX video_views_at ON video_views(at);

-- Views per local day (YYYY-MM-DD in the server's zone), for statistics.
CREATE TABLE daily_views (
    day   TEXT    PRIMARY KEY,
    views INTEGER NOT NULL
);

-- +goose Down
DROP TABLE daily_views;
DROP TABLE video_views;
DROP TABLE upload_chunks;
DROP TABLE uploads;
DROP TRIGGER videos_fts_update;
DROP TRIGGER videos_fts_delete;
DROP TRIGGER videos_fts_insert;
DROP TABLE videos_fts;
DROP INDEX categories_sibling_name;
DROP TRIGGER video_status_counts_update;
DROP TRIGGER video_status_counts_delete;
DROP TRIGGER video_status_counts_insert;
DROP TABLE video_status_counts;
DROP INDEX videos_user;
DROP INDEX videos_category_views;
DROP INDEX videos_category;
DROP INDEX videos_created;
DROP INDEX videos_views;
DROP INDEX videos_status_views;
DROP INDEX videos_status;
