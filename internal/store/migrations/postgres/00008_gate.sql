-- +goose Up
-- The gate (internal/gate; privacy requirements P-17 to P-22, P-38): every
-- outbound message needs a permit, and every decision is kept.

-- The merchant's policy per channel: frequency caps (0 = no merchant cap;
-- the platform's and the person's caps still apply), quiet hours in minutes
-- of the person's local day, and for WeCom the corp's group-message rule.
CREATE TABLE gate_policy (
    channel     TEXT PRIMARY KEY CHECK (channel IN ('wecom', 'sms', 'email')),
    cap_day     INTEGER NOT NULL DEFAULT 0 CHECK (cap_day >= 0),
    cap_week    INTEGER NOT NULL DEFAULT 0 CHECK (cap_week >= 0),
    cap_month   INTEGER NOT NULL DEFAULT 0 CHECK (cap_month >= 0),
    quiet_start INTEGER NOT NULL DEFAULT 1260 CHECK (quiet_start BETWEEN 0 AND 1439),
    quiet_end   INTEGER NOT NULL DEFAULT 480 CHECK (quiet_end BETWEEN 0 AND 1439),
    wecom_rule  TEXT NOT NULL DEFAULT 'month_days' CHECK (wecom_rule IN ('month_days', 'week_7', 'day_1')),
    updated_at  TIMESTAMPTZ NOT NULL
);

-- Every decision, allowed or refused, written in batches.
CREATE TABLE gate_decisions (
    id               TEXT PRIMARY KEY,
    at               TIMESTAMPTZ NOT NULL,
    person_kind      TEXT NOT NULL,
    person_key       TEXT NOT NULL,
    channel          TEXT NOT NULL,
    purpose          TEXT NOT NULL,
    class            TEXT NOT NULL,
    campaign         TEXT NOT NULL DEFAULT '',
    sender           TEXT NOT NULL DEFAULT '',
    allowed          BOOLEAN NOT NULL,
    reason           TEXT NOT NULL,
    detail           TEXT NOT NULL DEFAULT '',
    consent_event_id BIGINT               -- the consent event the decision rests on
);
CREATE INDEX gate_decisions_person ON gate_decisions (person_kind, person_key, at);

-- Permits: one per allowed decision (same id). Only the SHA-256 of the
-- permit's random token is kept; consumed_at is set once, by gate.Consume.
CREATE TABLE gate_permits (
    id          TEXT PRIMARY KEY REFERENCES gate_decisions (id),
    token_hash  TEXT NOT NULL,
    person_kind TEXT NOT NULL,
    person_key  TEXT NOT NULL,
    channel     TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    class       TEXT NOT NULL CHECK (class IN ('service', 'marketing')),
    campaign    TEXT NOT NULL DEFAULT '',
    sender      TEXT NOT NULL DEFAULT '',
    tz          TEXT NOT NULL,
    decided_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    consumed_at TIMESTAMPTZ
);
CREATE INDEX gate_permits_person ON gate_permits (person_kind, person_key, decided_at);

-- What frequency caps count: one row per consumed permit, across every
-- campaign, sender and member.
CREATE TABLE gate_sends (
    permit_id   TEXT PRIMARY KEY REFERENCES gate_permits (id),
    person_kind TEXT NOT NULL,
    person_key  TEXT NOT NULL,
    channel     TEXT NOT NULL,
    class       TEXT NOT NULL,
    at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX gate_sends_cap ON gate_sends (person_kind, person_key, channel, at);

-- +goose Down
DROP TABLE gate_sends;
DROP TABLE gate_permits;
DROP TABLE gate_decisions;
DROP TABLE gate_policy;
