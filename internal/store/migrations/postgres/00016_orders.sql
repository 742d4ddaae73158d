-- +goose Up
-- Orders and payments from the merchant's own shops and ERP (issue 8),
-- joined to customers through keyed blind indexes (internal/protect; privacy
-- requirements P-8, P-42). Only what a purpose needs is kept: the receiver's
-- phone and address sealed (shown masked, found by index); no receiver name,
-- buyer message, ID number or payment account.

-- A buyer account in one shop (a Taobao member name, a JD pin): the account
-- sealed and indexed per shop, and the customer it was linked to, by what.
CREATE TABLE shop_identities (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop           TEXT NOT NULL,
    account_index  TEXT NOT NULL,  -- protect Index("shop_account", shop NUL account)
    account_sealed TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    customer_id    BIGINT REFERENCES customers (id) ON DELETE SET NULL,
    linked_by      TEXT NOT NULL DEFAULT '',  -- '', phone, unionid, external_userid, manual
    linked_at      TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL,
    UNIQUE (shop, account_index)
);
CREATE INDEX shop_identities_customer ON shop_identities (customer_id);

-- One order per shop and order number, whatever brought it (a file, the
-- webhook, the ERP connector).
CREATE TABLE orders (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shop           TEXT NOT NULL,
    order_no       TEXT NOT NULL,
    source         TEXT NOT NULL,             -- import, webhook:NAME, erp:NAME
    identity_id    BIGINT REFERENCES shop_identities (id) ON DELETE SET NULL,
    customer_id    BIGINT REFERENCES customers (id) ON DELETE SET NULL,
    linked_by      TEXT NOT NULL DEFAULT '',  -- how customer_id was found
    buyer_unionid  TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'shipped', 'completed', 'cancelled', 'refunded')),
    total_fen      BIGINT NOT NULL,           -- what the buyer paid, freight included
    freight_fen    BIGINT NOT NULL DEFAULT 0,
    refund_fen     BIGINT NOT NULL DEFAULT 0,
    ordered_at     TIMESTAMPTZ NOT NULL,
    paid_at        TIMESTAMPTZ,
    shipped_at     TIMESTAMPTZ,
    completed_at   TIMESTAMPTZ,
    phone_sealed   TEXT NOT NULL DEFAULT '',  -- the receiver's plain mobile number, sealed
    phone_index    TEXT NOT NULL DEFAULT '',
    address_sealed TEXT NOT NULL DEFAULT '',
    address_index  TEXT NOT NULL DEFAULT '',
    core_hash      TEXT NOT NULL,             -- what may not change (amounts, items, buyer)
    progress_hash  TEXT NOT NULL,             -- what may (status, times, refunds)
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    UNIQUE (shop, order_no)
);
CREATE INDEX orders_customer ON orders (customer_id, ordered_at);
CREATE INDEX orders_identity ON orders (identity_id);
CREATE INDEX orders_phone ON orders (phone_index) WHERE phone_index <> '';

CREATE TABLE order_items (
    order_id  BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line      INTEGER NOT NULL,
    sku       TEXT NOT NULL DEFAULT '',
    title     TEXT NOT NULL DEFAULT '',
    quantity  INTEGER NOT NULL,
    price_fen BIGINT NOT NULL,
    PRIMARY KEY (order_id, line)
);

-- Payments collected outside shops: WeCom external payments (对外收款),
-- attached to the payer and the member who collected them.
CREATE TABLE payments (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source          TEXT NOT NULL,            -- wecom
    transaction_id  TEXT NOT NULL,
    external_userid TEXT NOT NULL DEFAULT '',
    customer_id     BIGINT REFERENCES customers (id) ON DELETE SET NULL,
    member_userid   TEXT NOT NULL DEFAULT '',
    amount_fen      BIGINT NOT NULL,
    refunded_fen    BIGINT NOT NULL DEFAULT 0,
    paid_at         TIMESTAMPTZ NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    out_trade_no    TEXT NOT NULL DEFAULT '', -- the merchant's payment number; refunds name it
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (source, transaction_id)
);
CREATE INDEX payments_customer ON payments (customer_id, paid_at);
CREATE INDEX payments_external ON payments (external_userid);
CREATE INDEX payments_out_trade ON payments (source, out_trade_no) WHERE out_trade_no <> '';

-- Refunds of payments, once each: a payment's refunded amount is at least
-- their sum.
CREATE TABLE payment_refunds (
    source       TEXT NOT NULL,
    refund_no    TEXT NOT NULL,
    out_trade_no TEXT NOT NULL,
    refund_fen   BIGINT NOT NULL,
    refunded_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, refund_no)
);

-- Remembered custom column mappings for file imports (JSON).
CREATE TABLE order_mappings (
    name       TEXT PRIMARY KEY,
    columns    TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- Webhook sources and their sealed signing secrets.
CREATE TABLE order_sources (
    name          TEXT PRIMARY KEY,
    secret_sealed TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);

-- Where each incremental pull (ERP connector, external payments) stopped.
CREATE TABLE order_cursors (
    name       TEXT PRIMARY KEY,
    cursor     TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- Orders and payments found through the unionid.
CREATE INDEX customers_unionid ON customers (unionid) WHERE unionid <> '';

-- +goose Down
DROP INDEX customers_unionid;
DROP TABLE order_cursors;
DROP TABLE order_sources;
DROP TABLE order_mappings;
DROP TABLE payment_refunds;
DROP TABLE payments;
DROP TABLE order_items;
DROP TABLE orders;
DROP TABLE shop_identities;
