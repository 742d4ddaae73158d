-- +goose Up
-- Callback intake speed (issue 3). SQLite checks "status IN ('pending', …)"
-- by building a temporary index of the four values for every row written:
-- about a sixth of an event's insert, in the commit every callback of a
-- burst waits behind. The same rule as a chain of ORs is checked in a few
-- comparisons (as campaign_deliveries' state in 00025). SQLite cannot change
-- a CHECK constraint in place, so the table is rebuilt (it is no table's
-- parent) and its indexes made again.
CREATE TABLE inbound_events_new (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,          -- wecom, …
    dedupe_key  BLOB NOT NULL,          -- wecom: CreateTime (8 bytes, big-endian) ‖ SHA-256 of the decrypted body
    kind        TEXT NOT NULL,          -- e.g. change_external_contact/add_external_contact
    body        TEXT NOT NULL,          -- the decrypted body
    received_at TIMESTAMP NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending'
                CHECK (status = 'pending' OR status = 'applied' OR status = 'stored' OR status = 'failed'),
    attempts    INTEGER NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT '',
    applied_at  TIMESTAMP,
    UNIQUE (source, dedupe_key)
);
INSERT INTO inbound_events_new (id, source, dedupe_key, kind, body, received_at, status, attempts, error, applied_at)
SELECT id, source, dedupe_key, kind, body, received_at, status, attempts, error, applied_at FROM inbound_events;
DROP TABLE inbound_events;
ALTER TABLE inbound_events_new RENAME TO inbound_events;
CREATE INDEX inbound_events_status ON inbound_events (status, id);

-- +goose Down
CREATE TABLE inbound_events_old (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,
    dedupe_key  BLOB NOT NULL,
    kind        TEXT NOT NULL,
    body        TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied', 'stored', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT '',
    applied_at  TIMESTAMP,
    UNIQUE (source, dedupe_key)
);
INSERT INTO inbound_events_old (id, source, dedupe_key, kind, body, received_at, status, attempts, error, applied_at)
SELECT id, source, dedupe_key, kind, body, received_at, status, attempts, error, applied_at FROM inbound_events;
DROP TABLE inbound_events;
ALTER TABLE inbound_events_old RENAME TO inbound_events;
CREATE INDEX inbound_events_status ON inbound_events (status, id);
