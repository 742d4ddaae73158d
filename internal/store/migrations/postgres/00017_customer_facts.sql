-- +goose Up
-- More customer facts from orders and payments (issue 8), next to those of
-- 00010: the first purchase, the average purchase (net of refunds, in fen,
-- rounded half up), refunds (how many purchases had money back, and how
-- much), and the RFM score (docs/architecture.md, "Customer facts"):
-- recency, frequency and monetary quintiles 1–5, 0 for a customer who never
-- bought, set by the daily job over every customer.
ALTER TABLE customers ADD COLUMN first_order_at TIMESTAMPTZ;
ALTER TABLE customers ADD COLUMN avg_order_fen BIGINT NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN refund_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN refund_fen BIGINT NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN rfm_r SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN rfm_f SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN rfm_m SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE customers ADD COLUMN rfm_score SMALLINT NOT NULL DEFAULT 0; -- 100 R + 10 F + M, e.g. 555
CREATE INDEX customers_rfm ON customers (rfm_score);

-- The merchant's catalogue: the category of each SKU code.
CREATE TABLE sku_categories (
    sku        TEXT PRIMARY KEY,
    category   TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- What each customer bought, one row per SKU code: from the lines of its
-- orders that were paid and not refunded in full; the category copied from
-- sku_categories (kept equal to it when the catalogue changes).
CREATE TABLE customer_skus (
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    sku         TEXT NOT NULL,
    category    TEXT NOT NULL DEFAULT '',
    orders      INTEGER NOT NULL,  -- orders with a line of it
    quantity    BIGINT NOT NULL,
    spent_fen   BIGINT NOT NULL,   -- unit price times quantity
    first_at    TIMESTAMPTZ NOT NULL,
    last_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (customer_id, sku)
);
CREATE INDEX customer_skus_sku ON customer_skus (sku, customer_id);
CREATE INDEX customer_skus_category ON customer_skus (category, customer_id) WHERE category <> '';

-- Sales per day by member and channel read customers' purchases of a date
-- range. Partial: orders that joined no customer (most of a big import's)
-- cost nothing here.
CREATE INDEX orders_customer_ordered ON orders (ordered_at) WHERE customer_id IS NOT NULL;
CREATE INDEX payments_customer_paid ON payments (paid_at) WHERE customer_id IS NOT NULL;

-- +goose Down
DROP INDEX payments_customer_paid;
DROP INDEX orders_customer_ordered;
DROP TABLE customer_skus;
DROP TABLE sku_categories;
DROP INDEX customers_rfm;
ALTER TABLE customers DROP COLUMN rfm_score;
ALTER TABLE customers DROP COLUMN rfm_m;
ALTER TABLE customers DROP COLUMN rfm_f;
ALTER TABLE customers DROP COLUMN rfm_r;
ALTER TABLE customers DROP COLUMN refund_fen;
ALTER TABLE customers DROP COLUMN refund_count;
ALTER TABLE customers DROP COLUMN avg_order_fen;
ALTER TABLE customers DROP COLUMN first_order_at;
