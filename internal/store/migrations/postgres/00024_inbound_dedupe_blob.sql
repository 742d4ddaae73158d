-- +goose Up
-- The dedupe key becomes 40 bytes: the event's own time (8 bytes,
-- big-endian) and the SHA-256 of the decrypted body, instead of 64 hex
-- digits of the hash alone. Keys of events that arrive together sort
-- together, so a burst of callbacks appends to the end of the unique index
-- instead of touching a random page of it per event, and the index is about
-- half the size. Existing WeCom keys are converted (CreateTime read from the
-- stored body), so a retry of an event stored before the upgrade is still
-- recognised; keys of other sources keep their bytes.
ALTER TABLE inbound_events ALTER COLUMN dedupe_key TYPE BYTEA USING (
    CASE WHEN source = 'wecom' AND dedupe_key ~ '^[0-9a-fA-F]{64}$'
        THEN int8send(COALESCE(substring(body FROM '<CreateTime>\s*(-?[0-9]{1,18})')::BIGINT, 0)) || decode(dedupe_key, 'hex')
        ELSE convert_to(dedupe_key, 'UTF8') END);

-- +goose Down
ALTER TABLE inbound_events ALTER COLUMN dedupe_key TYPE TEXT USING (
    CASE WHEN source = 'wecom' AND length(dedupe_key) = 40 THEN encode(substring(dedupe_key FROM 9), 'hex')
        ELSE convert_from(dedupe_key, 'UTF8') END);
