-- +goose Up
-- Field-key rotation and protected fields beyond phone numbers
-- (internal/protect; privacy requirements P-42, P-43).

-- The field keys values have been sealed under, by id only (never the key):
-- a node whose secrets lack a key that is not retired is stopped at start,
-- and a key is retired only once no value uses it.
CREATE TABLE field_keys (
    key_id        TEXT PRIMARY KEY,
    first_used_at TIMESTAMP NOT NULL,
    retired_at    TIMESTAMP NULL
);

-- Protected values of any owner (a customer's e-mail addresses and postal
-- addresses, an order's receiver address, …): sealed with AES-GCM, found by
-- a keyed blind index, shown masked. Never plaintext.
CREATE TABLE protected_values (
    owner_kind  TEXT NOT NULL,   -- what the value belongs to: customer, order, …
    owner_id    TEXT NOT NULL,   -- its id within that kind
    field       TEXT NOT NULL,   -- phone, email or address
    value_index TEXT NOT NULL,   -- hex HMAC-SHA256 of the field and the normalised value
    sealed      TEXT NOT NULL,   -- fieldcrypt sealed value, bound to the field
    key_id      TEXT NOT NULL,   -- the field key that sealed it, for rotation
    masked      TEXT NOT NULL,   -- the form shown by default (138****1234, z***@example.com)
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, field, value_index)
);
CREATE INDEX protected_values_lookup ON protected_values (field, value_index);
CREATE INDEX protected_values_key ON protected_values (key_id);
-- Rotation and `kith keys list` count values per key.
CREATE INDEX customer_phones_key ON customer_phones (key_id);

-- +goose Down
DROP INDEX customer_phones_key;
DROP TABLE protected_values;
DROP TABLE field_keys;
