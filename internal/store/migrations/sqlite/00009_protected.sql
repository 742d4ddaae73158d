-- +goose Up
-- Protected fields (internal/protect; privacy requirements P-42, P-43): the
-- phone numbers members noted for a customer (WeCom's remark_mobiles), kept
-- sealed with AES-GCM and found by a keyed blind index, never as plaintext.
CREATE TABLE customer_phones (
    customer_id   INTEGER NOT NULL,
    member_userid TEXT NOT NULL,
    phone_sealed  TEXT NOT NULL,   -- fieldcrypt sealed value, bound to the field
    phone_index   TEXT NOT NULL,   -- hex HMAC-SHA256 of the normalised number
    key_id        TEXT NOT NULL,   -- the field key that sealed it, for rotation
    PRIMARY KEY (customer_id, member_userid, phone_index),
    FOREIGN KEY (customer_id, member_userid) REFERENCES follows (customer_id, member_userid) ON DELETE CASCADE
);
CREATE INDEX customer_phones_index ON customer_phones (phone_index);

-- +goose Down
DROP TABLE customer_phones;
