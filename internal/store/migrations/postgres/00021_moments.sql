-- +goose Up
-- Customer moments as a campaign channel (wecom_moment).
ALTER TABLE campaigns DROP CONSTRAINT campaigns_channel_check;
ALTER TABLE campaigns ADD CONSTRAINT campaigns_channel_check CHECK (channel IN ('wecom', 'wecom_moment', 'sms', 'email'));

-- One moment task per batch of a wecom_moment campaign (internal/channel/
-- wecommoment): the batch's own enterprise tag (only the customers the gate
-- permitted and whose permits were consumed carry it), the job and moment
-- ids WeCom gave, whether the member published, and the read-only counts
-- of likes and comments (refreshed by a job; Kith never likes or comments).
CREATE TABLE moment_tasks (
    batch_id      BIGINT PRIMARY KEY,
    campaign_id   BIGINT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    sender        TEXT NOT NULL,
    tag_id        TEXT NOT NULL DEFAULT '',
    tagged        INTEGER NOT NULL DEFAULT 0,
    job_id        TEXT NOT NULL DEFAULT '',
    moment_id     TEXT NOT NULL DEFAULT '',
    job_error     INTEGER NOT NULL DEFAULT 0,
    published_at  TIMESTAMPTZ,
    cancelled     BOOLEAN NOT NULL DEFAULT FALSE,
    likes         INTEGER NOT NULL DEFAULT 0,
    comments      INTEGER NOT NULL DEFAULT 0,
    stats_at      TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX moment_tasks_campaign ON moment_tasks (campaign_id);
CREATE INDEX moment_tasks_moment ON moment_tasks (moment_id);

-- +goose Down
DROP TABLE moment_tasks;
DELETE FROM campaigns WHERE channel = 'wecom_moment';
ALTER TABLE campaigns DROP CONSTRAINT campaigns_channel_check;
ALTER TABLE campaigns ADD CONSTRAINT campaigns_channel_check CHECK (channel IN ('wecom', 'sms', 'email'));
