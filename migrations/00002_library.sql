-- +goose Up
-- The video library: list indexes, keyword search, chunked uploads, views.

-- One index per list order and filter (SPEC §5): published lists by status,
-- admin lists over every status, category pages, a user's own videos.
CREATE INDEX videos_status_created ON videos(status, created_at, id);
CREATE INDEX videos_status_views ON videos(status, views, id);
CREATE INDEX videos_created ON videos(created_at, id);
CREATE INDEX videos_views ON videos(views, id);
CREATE INDEX videos_category_created ON videos(category_id, status, created_at, id);
CREATE INDEX videos_category_views ON videos(category_id, status, views, id);
CREATE INDEX videos_user_created ON videos(user_id, created_at, id);

-- Sibling names are unique (SPEC §6); NOCASE so "Movies" and "movies" clash.
CREATE UNIQUE INDEX categories_sibling_name ON categories(parent_id, name COLLATE NOCASE);

-- Keyword search: substring matching in any script through trigrams. The
-- table indexes the videos table's own columns (external content) and the
-- triggers keep it in step; tags are indexed as their stored JSON text.
CREATE VIRTUAL TABLE videos_fts USING fts5(
    title, description, tags,
    content = 'videos', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO videos_fts(videos_fts) VALUES ('rebuild');

-- +goose StatementBegin
CREATE TRIGGER videos_fts_insert AFTER INSERT ON videos BEGIN
    INSERT INTO videos_fts(rowid, title, description, tags)
    VALUES (new.id, new.title, new.description, new.tags);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER videos_fts_delete AFTER DELETE ON videos BEGIN
    INSERT INTO videos_fts(videos_fts, rowid, title, description, tags)
    VALUES ('delete', old.id, old.title, old.description, old.tags);
END;
-- +goose StatementEnd

-- Only the searched columns: counting a view must not touch the index.
-- +goose StatementBegin
CREATE TRIGGER videos_fts_update AFTER UPDATE OF title, description, tags ON videos BEGIN
    INSERT INTO videos_fts(videos_fts, rowid, title, description, tags)
    VALUES ('delete', old.id, old.title, old.description, old.tags);
    INSERT INTO videos_fts(rowid, title, description, tags)
    VALUES (new.id, new.title, new.description, new.tags);
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
DROP INDEX videos_user_created;
DROP INDEX videos_category_views;
DROP INDEX videos_category_created;
DROP INDEX videos_views;
DROP INDEX videos_created;
DROP INDEX videos_status_views;
DROP INDEX videos_status_created;
