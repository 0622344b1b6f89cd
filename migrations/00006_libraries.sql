-- +goose Up
-- Library folders (SPEC §10): folders on the NAS whose videos Mika imports in
-- place. A scan is requested through the row (scan_requested_at) so that the
-- HTTP side and the library service only meet in the database, and a request
-- survives a restart.

-- scan_interval_minutes: 0 = no periodic scan (watcher and "scan now" only).
-- scanning/scan_scanned/scan_total are written by the running scan;
-- created_by is the admin who owns the imported videos.
CREATE TABLE libraries (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    path                  TEXT    NOT NULL UNIQUE,
    category_id           INTEGER NOT NULL DEFAULT 0,
    scan_interval_minutes INTEGER NOT NULL DEFAULT 720,
    created_by            INTEGER NOT NULL,
    scan_requested_at     INTEGER NOT NULL DEFAULT 0,
    scanning              INTEGER NOT NULL DEFAULT 0,
    scan_scanned          INTEGER NOT NULL DEFAULT 0,
    scan_total            INTEGER NOT NULL DEFAULT 0,
    last_scan_at          INTEGER NOT NULL DEFAULT 0,
    last_error            TEXT    NOT NULL DEFAULT '',
    watching              INTEGER NOT NULL DEFAULT 0,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);

-- One row per regular file seen in a library. size + mtime (Unix
-- nanoseconds) let a rescan of an unchanged library skip every file without
-- opening it. stable_since is Unix milliseconds: the file is imported once
-- its size and mtime have not changed for the scanner's window (60 s).
-- head_tail_hash = sha256(first MiB + last MiB + size), used to recognise a
-- moved or renamed file. state: pending (waiting to be stable), imported
-- (video_id set), skipped (not a video; reason says why), missing (gone;
-- video_id kept so a reappearance or move restores it).
CREATE TABLE library_files (
    library_id     INTEGER NOT NULL REFERENCES libraries(id) ON DELETE CASCADE,
    rel_path       TEXT    NOT NULL,
    size           INTEGER NOT NULL,
    mtime          INTEGER NOT NULL,
    head_tail_hash TEXT    NOT NULL DEFAULT '',
    video_id       INTEGER NOT NULL DEFAULT 0,
    first_seen_at  INTEGER NOT NULL,
    stable_since   INTEGER NOT NULL,
    state          TEXT    NOT NULL CHECK (state IN ('pending', 'imported', 'skipped', 'missing')),
    reason         TEXT    NOT NULL DEFAULT '',
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (library_id, rel_path)
) WITHOUT ROWID;
CREATE INDEX library_files_video ON library_files(video_id);

CREATE INDEX library_videos ON videos(library_id, missing);

-- +goose Down
DROP INDEX library_videos;
DROP INDEX library_files_video;
DROP TABLE library_files;
DROP TABLE libraries;
