-- +goose Up
-- Customer moments as a campaign channel (wecom_moment). SQLite cannot
-- change a CHECK constraint in place, so campaigns is rebuilt with the new
-- channel allowed; its two child tables are rebuilt with it, because
-- dropping a parent table with foreign keys on would cascade its rows away.
CREATE TABLE campaigns_new (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    purpose       TEXT NOT NULL CHECK (purpose IN ('service', 'marketing')),
    channel       TEXT NOT NULL CHECK (channel IN ('wecom', 'wecom_moment', 'sms', 'email')),
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
INSERT INTO campaigns_new (id, name, purpose, channel, msg_type, content, content_hash, audience, schedule_kind, scheduled_at, recurrence, state, reason, created_by, planned_at, created_at, updated_at, started_at, finished_at, run_owner, run_lease, resume_at) SELECT id, name, purpose, channel, msg_type, content, content_hash, audience, schedule_kind, scheduled_at, recurrence, state, reason, created_by, planned_at, created_at, updated_at, started_at, finished_at, run_owner, run_lease, resume_at FROM campaigns;

CREATE TABLE campaign_batches_new (
    id           INTEGER PRIMARY KEY,
    campaign_id  INTEGER NOT NULL REFERENCES campaigns_new (id) ON DELETE CASCADE,
    sender       TEXT NOT NULL DEFAULT '',
    state        TEXT NOT NULL CHECK (state IN ('calling', 'settled', 'unknown', 'void')),
    size         INTEGER NOT NULL DEFAULT 0,
    provider_id  TEXT NOT NULL DEFAULT '',    -- WeCom msgid
    reason       TEXT NOT NULL DEFAULT '',
    marked_at    TIMESTAMP NOT NULL,
    settled_at   TIMESTAMP
);
INSERT INTO campaign_batches_new (id, campaign_id, sender, state, size, provider_id, reason, marked_at, settled_at) SELECT id, campaign_id, sender, state, size, provider_id, reason, marked_at, settled_at FROM campaign_batches;

CREATE TABLE campaign_deliveries_new (
    campaign_id  INTEGER NOT NULL REFERENCES campaigns_new (id) ON DELETE CASCADE,
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
INSERT INTO campaign_deliveries_new (campaign_id, customer_id, channel, sender, state, reason, detail, batch_id, permit_id, provider_id, attempts, updated_at) SELECT campaign_id, customer_id, channel, sender, state, reason, detail, batch_id, permit_id, provider_id, attempts, updated_at FROM campaign_deliveries;

DROP TABLE campaign_deliveries;
DROP TABLE campaign_batches;
DROP TABLE campaigns;
ALTER TABLE campaigns_new RENAME TO campaigns;
ALTER TABLE campaign_batches_new RENAME TO campaign_batches;
ALTER TABLE campaign_deliveries_new RENAME TO campaign_deliveries;
CREATE INDEX campaigns_state ON campaigns (state, scheduled_at);
CREATE INDEX campaign_batches_campaign ON campaign_batches (campaign_id, state);
CREATE INDEX campaign_deliveries_state ON campaign_deliveries (campaign_id, state, sender);
CREATE INDEX campaign_deliveries_batch ON campaign_deliveries (batch_id);

-- One moment task per batch of a wecom_moment campaign (internal/channel/
-- wecommoment): the batch's own enterprise tag (only the customers the gate
-- permitted and whose permits were consumed carry it), the job and moment
-- ids WeCom gave, whether the member published, and the read-only counts
-- of likes and comments (refreshed by a job; Kith never likes or comments).
CREATE TABLE moment_tasks (
    batch_id      INTEGER PRIMARY KEY,
    campaign_id   INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    sender        TEXT NOT NULL,
    tag_id        TEXT NOT NULL DEFAULT '',
    tagged        INTEGER NOT NULL DEFAULT 0,
    job_id        TEXT NOT NULL DEFAULT '',
    moment_id     TEXT NOT NULL DEFAULT '',
    job_error     INTEGER NOT NULL DEFAULT 0,
    published_at  TIMESTAMP,
    cancelled     BOOLEAN NOT NULL DEFAULT FALSE,
    likes         INTEGER NOT NULL DEFAULT 0,
    comments      INTEGER NOT NULL DEFAULT 0,
    stats_at      TIMESTAMP,
    created_at    TIMESTAMP NOT NULL
);
CREATE INDEX moment_tasks_campaign ON moment_tasks (campaign_id);
CREATE INDEX moment_tasks_moment ON moment_tasks (moment_id);

-- +goose Down
DROP TABLE moment_tasks;
DELETE FROM campaigns WHERE channel = 'wecom_moment';
-- The wider CHECK stays: narrowing it would need the same rebuild, and no
-- row uses the value any more.
