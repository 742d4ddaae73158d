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
    valid_until   TIMESTAMP NULL,           -- a grant's scope.valid_until
    scope         TEXT NOT NULL DEFAULT '', -- a grant's scope JSON ('' otherwise)
    event_id      INTEGER NOT NULL,         -- the deciding consent event
    suppressed    BOOLEAN NOT NULL DEFAULT FALSE, -- a suppression exists for this person, purpose and channel
    person_index  TEXT NOT NULL DEFAULT '', -- kind phone: protect.Protector.Index("phone", number)
    updated_at    TIMESTAMP NOT NULL,
    -- beyond the shared contract, for the gate: what consent.State.Permits
    -- needs, and the change sequence the gate tails
    occurred_at   TIMESTAMP NOT NULL,       -- the deciding event's occurred_at
    received_at   TIMESTAMP NOT NULL,       -- the deciding event's received_at
    source        TEXT NOT NULL,            -- the deciding event's source
    suppressed_at TIMESTAMP NULL,           -- when the suppression was made
    seq           INTEGER NOT NULL,         -- consent_state_seq.seq when the row last changed
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
    seq INTEGER NOT NULL
);
INSERT INTO consent_state_seq (one, built, seq) VALUES (1, FALSE, 0);

-- The rows an erasure deleted, by the event they rested on (no personal
-- data), so the gate's caches on other nodes drop them.
CREATE TABLE consent_state_erased (
    seq      INTEGER NOT NULL,
    event_id INTEGER NOT NULL,
    PRIMARY KEY (seq, event_id)
);

-- +goose Down
DROP TABLE consent_state_erased;
DROP TABLE consent_state_seq;
DROP TABLE consent_state;
