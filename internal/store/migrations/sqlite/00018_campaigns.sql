-- +goose Up
-- Campaigns (issue 7): what to send to whom and when, one delivery row per
-- recipient (customer × campaign × channel) with its state, and the
-- batches handed to a channel, marked before the call and settled after.

-- content is the message as JSON (campaign.Content); audience the segment
-- or tags as JSON (campaign.Audience); content_hash identifies the content
-- on the platform (WeCom group messages are matched by it after a crash).
CREATE TABLE campaigns (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    purpose       TEXT NOT NULL CHECK (purpose IN ('service', 'marketing')),
    channel       TEXT NOT NULL CHECK (channel IN ('wecom', 'sms', 'email')),
    msg_type      TEXT NOT NULL DEFAULT '',
    content       TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    audience      TEXT NOT NULL,
    schedule_kind TEXT NOT NULL CHECK (schedule_kind IN ('now', 'at', 'recurring')),
    scheduled_at  TIMESTAMP,
    recurrence    TEXT NOT NULL DEFAULT '',
    state         TEXT NOT NULL CHECK (state IN ('draft', 'scheduled', 'running', 'done', 'cancelled', 'failed')),
    reason        TEXT NOT NULL DEFAULT '',
    created_by    INTEGER NOT NULL DEFAULT 0,
    planned_at    TIMESTAMP,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    started_at    TIMESTAMP,
    finished_at   TIMESTAMP,
    -- the node running the campaign's batches and until when (a lease, so a
    -- second runner never reconciles a batch whose call is still in flight)
    run_owner     TEXT NOT NULL DEFAULT '',
    run_lease     TIMESTAMP,
    -- quiet hours: the run waits until then (the gate said when it may send)
    resume_at     TIMESTAMP
);
CREATE INDEX campaigns_state ON campaigns (state, scheduled_at);

-- A batch: the recipients of one call to a channel (for WeCom, one member's
-- group-message task). 'calling' is written before the call; a batch still
-- 'calling' after a crash is in doubt and reconciled before anything else.
CREATE TABLE campaign_batches (
    id           INTEGER PRIMARY KEY,
    campaign_id  INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    sender       TEXT NOT NULL DEFAULT '',
    state        TEXT NOT NULL CHECK (state IN ('calling', 'settled', 'unknown', 'void')),
    size         INTEGER NOT NULL DEFAULT 0,
    provider_id  TEXT NOT NULL DEFAULT '',    -- WeCom msgid
    reason       TEXT NOT NULL DEFAULT '',
    marked_at    TIMESTAMP NOT NULL,
    settled_at   TIMESTAMP
);
CREATE INDEX campaign_batches_campaign ON campaign_batches (campaign_id, state);

-- One row per recipient × campaign × channel.
CREATE TABLE campaign_deliveries (
    campaign_id  INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    customer_id  INTEGER NOT NULL,
    channel      TEXT NOT NULL,
    sender       TEXT NOT NULL DEFAULT '',    -- the WeCom member who sends it
    state        TEXT NOT NULL CHECK (state IN ('refused', 'planned', 'claimed', 'sent', 'delivered', 'failed', 'unknown', 'cancelled')),
    reason       TEXT NOT NULL DEFAULT '',    -- a gate Reason, or the failure's code
    detail       TEXT NOT NULL DEFAULT '',
    batch_id     INTEGER,
    permit_id    TEXT NOT NULL DEFAULT '',
    provider_id  TEXT NOT NULL DEFAULT '',
    attempts     INTEGER NOT NULL DEFAULT 0,
    updated_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (campaign_id, customer_id, channel)
);
CREATE INDEX campaign_deliveries_state ON campaign_deliveries (campaign_id, state, sender);
CREATE INDEX campaign_deliveries_batch ON campaign_deliveries (batch_id);

-- +goose Down
DROP TABLE campaign_deliveries;
DROP TABLE campaign_batches;
DROP TABLE campaigns;
