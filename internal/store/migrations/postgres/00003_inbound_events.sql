-- +goose Up
-- Every verified inbound event (platform callbacks, and later SMS replies
-- and webhooks), stored before it is answered and applied by a job.
CREATE TABLE inbound_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      TEXT NOT NULL,          -- wecom, …
    dedupe_key  TEXT NOT NULL,          -- a hash of the decrypted body
    kind        TEXT NOT NULL,          -- e.g. change_external_contact/add_external_contact
    body        TEXT NOT NULL,          -- the decrypted body
    received_at TIMESTAMPTZ NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied', 'stored', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT '',
    applied_at  TIMESTAMPTZ,
    UNIQUE (source, dedupe_key)
);
CREATE INDEX inbound_events_status ON inbound_events (status, id);

-- +goose Down
DROP TABLE inbound_events;
