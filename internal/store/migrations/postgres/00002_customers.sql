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
    left_at         TIMESTAMPTZ,
    updated_at      TIMESTAMPTZ NOT NULL
);

-- Customers: one row per external contact, however many members follow it.
CREATE TABLE customers (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    external_userid TEXT NOT NULL UNIQUE,
    unionid         TEXT NOT NULL DEFAULT '',
    name            TEXT NOT NULL DEFAULT '',
    avatar          TEXT NOT NULL DEFAULT '',
    type            INTEGER NOT NULL DEFAULT 1, -- 1 WeChat user, 2 WeCom user
    gender          INTEGER NOT NULL DEFAULT 0, -- 0 unknown, 1 male, 2 female
    corp_name       TEXT NOT NULL DEFAULT '',
    -- the name as overlapping character pairs and single characters (see
    -- customer.Grams); pg_trgm indexes no Chinese in a C-locale database
    search_grams    TEXT NOT NULL DEFAULT '',
    search          TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', search_grams)) STORED,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX customers_name ON customers (name, id);
CREATE INDEX customers_search ON customers USING GIN (search);

-- The follow relation between a member and a customer.
CREATE TABLE follows (
    customer_id   BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    member_userid TEXT NOT NULL,
    remark        TEXT NOT NULL DEFAULT '',
    description   TEXT NOT NULL DEFAULT '',
    add_way       INTEGER NOT NULL DEFAULT 0,
    state         TEXT NOT NULL DEFAULT '',
    oper_userid   TEXT NOT NULL DEFAULT '',
    added_at      TIMESTAMPTZ NOT NULL,
    -- active; deleted_by_member (the relation is gone); deleted_by_customer
    -- (a one-way relation remains on WeCom's side)
    status        TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deleted_by_member', 'deleted_by_customer')),
    ended_at      TIMESTAMPTZ,
    updated_at    TIMESTAMPTZ NOT NULL,
    synced_at     TIMESTAMPTZ,              -- when a full sync last saw it
    PRIMARY KEY (customer_id, member_userid)
);
CREATE INDEX follows_member ON follows (member_userid, customer_id);

-- Corp tags on a follow relation.
CREATE TABLE follow_tags (
    customer_id   BIGINT NOT NULL,
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
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE tags (
    tag_id     TEXT PRIMARY KEY,
    group_id   TEXT NOT NULL REFERENCES tag_groups (group_id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    sort_order INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX tags_group ON tags (group_id);

-- +goose Down
DROP TABLE tags;
DROP TABLE tag_groups;
DROP TABLE follow_tags;
DROP TABLE follows;
DROP TABLE customers;
DROP TABLE members;
