-- +goose Up
-- Customer acquisition (issue 4): channel codes (「联系我」 contact ways) and
-- customer-acquisition links that customers scan or tap, their rotation
-- plans, what Kith did for each arrival, and the welcome messages sent.

-- A channel: a contact way (kind 'code') or a 获客助手 link (kind 'link').
-- spec is the plan as JSON (members, schedule shifts, backups, arrival tags,
-- welcome message; see acquisition.Spec). roster is the member list the
-- code has on WeCom now, as JSON.
CREATE TABLE acq_channels (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('code', 'link')),
    name        TEXT NOT NULL,
    group_name  TEXT NOT NULL DEFAULT '',
    state       TEXT NOT NULL UNIQUE,
    skip_verify BOOLEAN NOT NULL DEFAULT TRUE,
    daily_cap   INTEGER NOT NULL DEFAULT 0 CHECK (daily_cap >= 0),
    spec        TEXT NOT NULL,
    remote_id   TEXT NOT NULL DEFAULT '',   -- config_id or link_id
    url         TEXT NOT NULL DEFAULT '',   -- qr_code or the link's url
    roster      TEXT NOT NULL DEFAULT '[]',
    roster_at   TIMESTAMP,
    sync_error  TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

-- One row per customer who arrived through a channel: the event's identity
-- makes applying it twice harmless.
CREATE TABLE acq_arrivals (
    id              INTEGER PRIMARY KEY,
    channel_id      INTEGER NOT NULL REFERENCES acq_channels (id) ON DELETE CASCADE,
    external_userid TEXT NOT NULL,
    member_userid   TEXT NOT NULL,
    event_time      BIGINT NOT NULL,
    arrived_at      TIMESTAMP NOT NULL,
    tags            TEXT NOT NULL DEFAULT '',  -- comma-separated tag ids applied
    tags_error      TEXT NOT NULL DEFAULT '',
    UNIQUE (member_userid, external_userid, event_time)
);
CREATE INDEX acq_arrivals_channel ON acq_arrivals (channel_id, arrived_at);

-- Welcome messages: one row per welcome code, written before the call
-- (status 'sending'), so a code is never used twice.
CREATE TABLE welcome_sends (
    welcome_code    TEXT PRIMARY KEY,
    channel_id      INTEGER,
    external_userid TEXT NOT NULL,
    member_userid   TEXT NOT NULL,
    permit_id       TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'failed', 'refused')),
    errcode         INTEGER NOT NULL DEFAULT 0,
    reason          TEXT NOT NULL DEFAULT '',
    attempted_at    TIMESTAMP NOT NULL,
    finished_at     TIMESTAMP
);
CREATE INDEX welcome_sends_channel ON welcome_sends (channel_id, attempted_at);

-- The default welcome message, for channels without their own and for
-- customers who came by no channel. One row at most.
CREATE TABLE welcome_default (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    message    TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Statistics read follows by channel state.
CREATE INDEX follows_state_added ON follows (state, added_at);

-- +goose Down
DROP INDEX follows_state_added;
DROP TABLE welcome_default;
DROP TABLE welcome_sends;
DROP TABLE acq_arrivals;
DROP TABLE acq_channels;
