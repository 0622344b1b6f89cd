-- +goose Up
-- Keyword search over published videos only (what everyone but admins
-- sees, SPEC §5): a second trigram index that holds just the published
-- rows, so that a public search pages newest first straight from the index
-- and counts its exact total inside the index, with no lookup of each
-- match's status. Its rowid is minus the video id: newest first (id order
-- is creation order) is then the index's own ascending order, which it
-- reads much faster than backwards.
--
-- Contentless: the index keeps only what it needs. Each text ends in
-- two char(31), which no searched keyword contains, so that every occurrence
-- of a 1–2 character keyword is the start of some trigram (the short-keyword
-- search expands it to the index's terms that begin with it). cat holds
-- '#<category id>#' so a category filter is one more term of the query.
CREATE VIRTUAL TABLE videos_pub_fts USING fts5(
    title, description, tags, cat,
    content = '', contentless_delete = 1, tokenize = 'trigram'
);
INSERT INTO videos_pub_fts(rowid, title, description, tags, cat)
    SELECT -id, title || char(31, 31), description || char(31, 31), ifnull((SELECT group_concat(value, char(31)) FROM json_each(videos.tags)), '') || char(31, 31), '#' || category_id || '#'
    FROM videos WHERE status = 1;

-- Merge segments eagerly (videos are added seldom, searched often): a
-- query reads each term in every segment.
INSERT INTO videos_pub_fts(videos_pub_fts, rank) VALUES ('automerge', 2);
INSERT INTO videos_pub_fts(videos_pub_fts) VALUES ('optimize');

-- A number that changes whenever the published index does: a search total
-- counted at one generation stays exact while it holds.
CREATE TABLE search_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO search_generation(id, n) VALUES (1, 0);

-- The index's terms (trigrams), for the short-keyword expansion.
CREATE VIRTUAL TABLE videos_pub_terms USING fts5vocab(videos_pub_fts, row);

-- +goose StatementBegin
CREATE TRIGGER videos_pub_insert AFTER INSERT ON videos WHEN new.status = 1 BEGIN
    INSERT INTO videos_pub_fts(rowid, title, description, tags, cat)
    VALUES (-new.id, new.title || char(31, 31), new.description || char(31, 31), ifnull((SELECT group_concat(value, char(31)) FROM json_each(new.tags)), '') || char(31, 31),
        '#' || new.category_id || '#');
    UPDATE search_generation SET n = n + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER videos_pub_delete AFTER DELETE ON videos WHEN old.status = 1 BEGIN
    DELETE FROM videos_pub_fts WHERE rowid = -old.id;
    UPDATE search_generation SET n = n + 1;
END;
-- +goose StatementEnd

-- One trigger for both sides, so the delete runs before the insert. Views
-- are not indexed here: counting a view must not touch the index.
-- +goose StatementBegin
CREATE TRIGGER videos_pub_update AFTER UPDATE OF status, title, description, tags, category_id ON videos
WHEN old.status = 1 OR new.status = 1 BEGIN
    DELETE FROM videos_pub_fts WHERE rowid = -old.id AND old.status = 1;
    INSERT INTO videos_pub_fts(rowid, title, description, tags, cat)
    SELECT -new.id, new.title || char(31, 31), new.description || char(31, 31), ifnull((SELECT group_concat(value, char(31)) FROM json_each(new.tags)), '') || char(31, 31),
        '#' || new.category_id || '#'
    WHERE new.status = 1;
    UPDATE search_generation SET n = n + 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER videos_pub_update;
DROP TRIGGER videos_pub_delete;
DROP TRIGGER videos_pub_insert;
DROP TABLE videos_pub_terms;
DROP TABLE search_generation;
DROP TABLE videos_pub_fts;
