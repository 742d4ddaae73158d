-- +goose Up
-- WeCom members: staff accounts, the ones with customer-contact permission
-- first of all.
CREATE TABLE members (
    userid          TEXT PRIMARY KEY,
    name            TEXT NOT NULL DEFAULT '',
    departments     TEXT NOT NULL DEFAULT '',   -- comma-separated department ids
    position        TEXT NOT NULL DEFAULT '',
    status          INTEGER NOT NULL DEFAULT 1, -- WeCom: 1 active, 2 disabled, 4 not activated, 5 left
    contact_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    left_at         TIMESTAMP,
    updated_at      TIMESTAMP NOT NULL
);

-- Customers: one row per external contact, however many members follow it.
CREATE TABLE customers (
    id              INTEGER PRIMARY KEY,
    external_userid TEXT NOT NULL UNIQUE,
    unionid         TEXT NOT NULL DEFAULT '',
    name            TEXT NOT NULL DEFAULT '',
    avatar          TEXT NOT NULL DEFAULT '',
    type            INTEGER NOT NULL DEFAULT 1, -- 1 WeChat user, 2 WeCom user
    gender          INTEGER NOT NULL DEFAULT 0, -- 0 unknown, 1 male, 2 female
    corp_name       TEXT NOT NULL DEFAULT '',
    -- the name as overlapping character pairs and single characters (see
    -- customer.Grams), which the full-text index below holds
    search_grams    TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE INDEX customers_name ON customers (name, id);

-- Name search: FTS5 over the grams, kept in step with customers by triggers.
-- (FTS5's trigram tokenizer finds nothing for two-character words.)
CREATE VIRTUAL TABLE customer_search USING fts5 (search_grams, content = 'customers', content_rowid = 'id', tokenize = 'unicode61', detail = 'none');
-- +goose StatementBegin
CREATE TRIGGER customers_search_insert AFTER INSERT ON customers BEGIN
    INSERT INTO customer_search (rowid, search_grams) VALUES (new.id, new.search_grams);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER customers_search_delete AFTER DELETE ON customers BEGIN
    INSERT INTO customer_search (customer_search, rowid, search_grams) VALUES ('delete', old.id, old.search_grams);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER customers_search_update AFTER UPDATE OF search_grams ON customers BEGIN
    INSERT INTO customer_search (customer_search, rowid, search_grams) VALUES ('delete', old.id, old.search_grams);
    INSERT INTO customer_search (rowid, search_grams) VALUES (new.id, new.search_grams);
END;
-- +goose StatementEnd

-- The follow relation between a member and a customer.
CREATE TABLE follows (
    customer_id   INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    member_userid TEXT NOT NULL,
    remark        TEXT NOT NULL DEFAULT '',
    description   TEXT NOT NULL DEFAULT '',
    add_way       INTEGER NOT NULL DEFAULT 0,
    state         TEXT NOT NULL DEFAULT '',
    oper_userid   TEXT NOT NULL DEFAULT '',
    added_at      TIMESTAMP NOT NULL,
    -- active; deleted_by_member (the relation is gone); deleted_by_customer
    -- (a one-way relation remains on WeCom's side)
    status        TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deleted_by_member', 'deleted_by_customer')),
    ended_at      TIMESTAMP,
    updated_at    TIMESTAMP NOT NULL,
    synced_at     TIMESTAMP,              -- when a full sync last saw it
    PRIMARY KEY (customer_id, member_userid)
);
CREATE INDEX follows_member ON follows (member_userid, customer_id);

-- Corp tags on a follow relation.
CREATE TABLE follow_tags (
    customer_id   INTEGER NOT NULL,
    member_userid TEXT NOT NULL,
    tag_id        TEXT NOT NULL,
    PRIMARY KEY (customer_id, member_userid, tag_id),
    FOREIGN KEY (customer_id, member_userid) REFERENCES follows (customer_id, member_userid) ON DELETE CASCADE
);
CREATE INDEX follow_tags_tag ON follow_tags (tag_id, customer_id);

-- Corp tag groups and tags, as WeCom holds them.
CREATE TABLE tag_groups (
    group_id   TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    sort_order INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE TABLE tags (
    tag_id     TEXT PRIMARY KEY,
    group_id   TEXT NOT NULL REFERENCES tag_groups (group_id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    sort_order INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX tags_group ON tags (group_id);

-- +goose Down
DROP TABLE tags;
DROP TABLE tag_groups;
DROP TABLE follow_tags;
DROP TABLE follows;
DROP TABLE customer_search;
DROP TABLE customers;
DROP TABLE members;
