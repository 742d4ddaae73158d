-- +goose Up
-- The current consent state, materialised (internal/consent/state.go): one
-- row per person, purpose and channel, written by internal/consent in the
-- same transaction as each consent event and suppression, so it always
-- equals the fold of consent_events (the deciding event is the last by
-- occurred_at, then id) and consent_suppressions. Erasure deletes the
-- person's rows. Existing events are folded into it by Go at start
-- (consent.BackfillState): the phone index and the suppression hash need
-- keys SQL does not have.
CREATE TABLE consent_state (
    person_kind   TEXT NOT NULL,
    person_key    TEXT NOT NULL,
    purpose       TEXT NOT NULL,
    channel       TEXT NOT NULL,
    action        TEXT NOT NULL,            -- the deciding event's action: grant | withdraw | refuse
    valid_until   TIMESTAMPTZ NULL,           -- a grant's scope.valid_until
    scope         TEXT NOT NULL DEFAULT '', -- a grant's scope JSON ('' otherwise)
    event_id      BIGINT NOT NULL,          -- the deciding consent event
    suppressed    BOOLEAN NOT NULL DEFAULT FALSE, -- a suppression exists for this person, purpose and channel
    person_index  TEXT NOT NULL DEFAULT '', -- kind phone: protect.Protector.Index("phone", number)
    updated_at    TIMESTAMPTZ NOT NULL,
    -- beyond the shared contract, for the gate: what consent.State.Permits
    -- needs, and the change sequence the gate tails
    occurred_at   TIMESTAMPTZ NOT NULL,       -- the deciding event's occurred_at
    received_at   TIMESTAMPTZ NOT NULL,       -- the deciding event's received_at
    source        TEXT NOT NULL,            -- the deciding event's source
    suppressed_at TIMESTAMPTZ NULL,           -- when the suppression was made
    seq           BIGINT  NOT NULL,         -- consent_state_seq.seq when the row last changed
    PRIMARY KEY (person_kind, person_key, purpose, channel)
);
CREATE INDEX consent_state_person_index ON consent_state (person_index);
CREATE INDEX consent_state_purpose_channel ON consent_state (purpose, channel);
CREATE INDEX consent_state_seq_order ON consent_state (seq);

-- The change counter of consent_state: one row, incremented in each writing
-- transaction, whose row lock orders the writers so that a reader tailing
-- by seq never skips a change committed late. built turns TRUE once
-- consent.BackfillState has folded the events recorded before this table.
CREATE TABLE consent_state_seq (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    built BOOLEAN NOT NULL DEFAULT FALSE,
    seq BIGINT NOT NULL
);
INSERT INTO consent_state_seq (one, built, seq) VALUES (1, FALSE, 0);

-- What an erasure deleted, by the ids of the person's events (no personal
-- data), so the gate's caches on other nodes drop the person's state.
CREATE TABLE consent_state_erased (
    seq      BIGINT  NOT NULL,
    event_id BIGINT  NOT NULL,
    PRIMARY KEY (seq, event_id)
);

-- Suppressions carry the consent_state_seq of their transaction too, so the
-- gate sees those of persons with no consent_state row (an erased person).
ALTER TABLE consent_suppressions ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX consent_suppressions_seq ON consent_suppressions (seq);

-- The gate's decisions, compact (internal/gate/record.go): one row per
-- DecideBatch call (or per group of concurrent Decide calls), its decisions
-- a JSON array of arrays in data:
--   [person_kind, person_key, channel, purpose, class, campaign, sender,
--    allowed, reason, detail, consent_event_id, tz, type, send_at_unix_us,
--    expires_at_unix_us]
-- A decision's id is 'd<batch id>-<index>'. Permits are not stored: a
-- permit's token is an HMAC of its id and contents (internal/gate/permit.go).
-- expires_at is the latest expiry of the batch's permits (NULL: none), so
-- the permits that may still be used are found without reading every batch.
CREATE TABLE gate_batches (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL,
    n          INTEGER NOT NULL,
    data       TEXT NOT NULL,
    expires_at TIMESTAMPTZ NULL
);
CREATE INDEX gate_batches_expires ON gate_batches (expires_at);

-- Decisions recorded before 00011 stay where they were; gate_decisions is
-- now a view of them and of every decision in gate_batches.
ALTER TABLE gate_decisions RENAME TO gate_decisions_v1;
CREATE VIEW gate_decisions AS
    SELECT id, at, person_kind, person_key, channel, purpose, class, campaign, sender, allowed, reason, detail, consent_event_id
    FROM gate_decisions_v1
    UNION ALL
    SELECT 'd' || b.id || '-' || (d.i - 1), b.at, d.v->>0, d.v->>1, d.v->>2, d.v->>3, d.v->>4, d.v->>5, d.v->>6,
        (d.v->>7)::boolean, d.v->>8, d.v->>9, (d.v->>10)::bigint
    FROM gate_batches b, jsonb_array_elements(b.data::jsonb) WITH ORDINALITY AS d (v, i);

-- A send names its permit by id; permits are no longer rows, so the
-- reference to gate_permits goes. The index on at lets every node's gate
-- tail new sends for its cap counters.
ALTER TABLE gate_sends DROP CONSTRAINT gate_sends_permit_id_fkey;
CREATE INDEX gate_sends_at ON gate_sends (at);

-- +goose Down
DROP INDEX gate_sends_at;
DROP VIEW gate_decisions;
ALTER TABLE gate_decisions_v1 RENAME TO gate_decisions;
DROP TABLE gate_batches;
DROP INDEX consent_suppressions_seq;
ALTER TABLE consent_suppressions DROP COLUMN seq;
DROP TABLE consent_state_erased;
DROP TABLE consent_state_seq;
DROP TABLE consent_state;
