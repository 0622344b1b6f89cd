-- +goose Up
-- Ids are AUTOINCREMENT: an id is never handed out again after a delete, so
-- an old play_url, cover URL or API key id can never reach a newer row.
-- Core schema. Times are Unix seconds (INTEGER); the API formats them in the
-- server's time zone. Later migrations add indexes, FTS and feature tables.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- settings holds one JSON-encoded value per key; missing keys use defaults.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    username       TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    password_hash  TEXT    NOT NULL,
    nickname       TEXT    NOT NULL DEFAULT '',
    email          TEXT    NOT NULL DEFAULT '',
    avatar         TEXT    NOT NULL DEFAULT '',
    role           TEXT    NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'user')),
    vip_level      INTEGER NOT NULL DEFAULT 0,
    vip_expire     TEXT    NOT NULL DEFAULT '',
    points         INTEGER NOT NULL DEFAULT 0,
    disabled       INTEGER NOT NULL DEFAULT 0,
    token_version  INTEGER NOT NULL DEFAULT 1,
    last_active_at INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT    NOT NULL DEFAULT '',
    api_key      TEXT    NOT NULL UNIQUE,
    secret_key   TEXT    NOT NULL,
    revoked      INTEGER NOT NULL DEFAULT 0,
    last_used_at INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL
);
CREATE INDEX api_keys_user ON api_keys(user_id);

-- Nonces seen with the HMAC signing form, kept for the timestamp window.
CREATE TABLE api_nonces (
    key_id     INTEGER NOT NULL,
    nonce      TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (key_id, nonce)
) WITHOUT ROWID;

CREATE TABLE invites (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    code       TEXT    NOT NULL UNIQUE,
    created_by INTEGER NOT NULL DEFAULT 0,
    used_by    INTEGER NOT NULL DEFAULT 0,
    used_at    INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

CREATE TABLE categories (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    parent_id  INTEGER NOT NULL DEFAULT 0,
    sort       INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX categories_parent ON categories(parent_id, sort, id);

-- status: 0 processing, 1 published, 2 failed, 3 hidden.
-- transcode_status mirrors the latest task.
-- source_path and hls_dir are relative to the data folder, except for
-- library imports whose source_path is the absolute path of the original.
CREATE TABLE videos (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id          INTEGER NOT NULL,
    title            TEXT    NOT NULL,
    description      TEXT    NOT NULL DEFAULT '',
    category_id      INTEGER NOT NULL DEFAULT 0,
    tags             TEXT    NOT NULL DEFAULT '[]',
    status           INTEGER NOT NULL DEFAULT 0,
    transcode_status TEXT    NOT NULL DEFAULT 'pending',
    source_path      TEXT    NOT NULL DEFAULT '',
    source_name      TEXT    NOT NULL DEFAULT '',
    file_size        INTEGER NOT NULL DEFAULT 0,
    duration         REAL    NOT NULL DEFAULT 0,
    width            INTEGER NOT NULL DEFAULT 0,
    height           INTEGER NOT NULL DEFAULT 0,
    resolution       TEXT    NOT NULL DEFAULT '',
    variants         TEXT    NOT NULL DEFAULT '[]',
    playable         INTEGER NOT NULL DEFAULT 0,
    has_cover        INTEGER NOT NULL DEFAULT 0,
    hls_bytes        INTEGER NOT NULL DEFAULT 0,
    views            INTEGER NOT NULL DEFAULT 0,
    library_id       INTEGER NOT NULL DEFAULT 0,
    missing          INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);

-- status: pending, processing, completed, failed, canceled.
CREATE TABLE tasks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    video_id    INTEGER NOT NULL,
    status      TEXT    NOT NULL DEFAULT 'pending',
    progress    INTEGER NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    error       TEXT    NOT NULL DEFAULT '',
    log         TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    started_at  INTEGER NOT NULL DEFAULT 0,
    finished_at INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX tasks_video ON tasks(video_id);
CREATE INDEX tasks_status ON tasks(status, id);

-- +goose Down
DROP TABLE tasks;
DROP TABLE videos;
DROP TABLE categories;
DROP TABLE invites;
DROP TABLE api_nonces;
DROP TABLE api_keys;
DROP TABLE users;
DROP TABLE settings;
DROP TABLE meta;
