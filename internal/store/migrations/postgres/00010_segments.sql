-- +goose Up
-- Customer facts the segment language compares (filled by the orders work):
-- the number of orders, amounts spent in fen over 30, 90 and 365 days and
-- in total, and when the last order was placed (NULL: never).
ALTER TABLE customers ADD COLUMN order_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN spent_30d_fen BIGINT NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN spent_90d_fen BIGINT NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN spent_365d_fen BIGINT NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN spent_total_fen BIGINT NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN last_order_at TIMESTAMPTZ;

-- For the reference SQL (internal/segment/sql.go): range scans on the facts,
-- the earliest active follow per customer, channels, and names of tags and
-- groups.
CREATE INDEX customers_order_count ON customers (order_count);
CREATE INDEX customers_spent_30d ON customers (spent_30d_fen);
CREATE INDEX customers_spent_90d ON customers (spent_90d_fen);
CREATE INDEX customers_spent_365d ON customers (spent_365d_fen);
CREATE INDEX customers_spent_total ON customers (spent_total_fen);
CREATE INDEX customers_last_order ON customers (last_order_at);
CREATE INDEX follows_active_added ON follows (customer_id, added_at) WHERE status = 'active';
CREATE INDEX follows_state ON follows (state, customer_id);
CREATE INDEX tags_name ON tags (name);
CREATE INDEX tag_groups_name ON tag_groups (name);

-- Saved segments: a name, who made it, and the expression in its canonical
-- form (segment.String).
CREATE TABLE segments (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    owner_id    BIGINT NOT NULL REFERENCES users (id),
    description TEXT NOT NULL DEFAULT '',
    expression  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX segments_owner ON segments (owner_id);

-- +goose Down
DROP TABLE segments;
DROP INDEX tag_groups_name;
DROP INDEX tags_name;
DROP INDEX follows_state;
DROP INDEX follows_active_added;
DROP INDEX customers_last_order;
DROP INDEX customers_spent_total;
DROP INDEX customers_spent_365d;
DROP INDEX customers_spent_90d;
DROP INDEX customers_spent_30d;
DROP INDEX customers_order_count;
ALTER TABLE customers DROP COLUMN last_order_at;
ALTER TABLE customers DROP COLUMN spent_total_fen;
ALTER TABLE customers DROP COLUMN spent_365d_fen;
ALTER TABLE customers DROP COLUMN spent_90d_fen;
ALTER TABLE customers DROP COLUMN spent_30d_fen;
ALTER TABLE customers DROP COLUMN order_count;
