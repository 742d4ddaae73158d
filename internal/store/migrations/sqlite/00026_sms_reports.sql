-- +goose Up
-- A moment's own tag is deleted from WeCom once its task is over
-- (internal/channel/wecommoment): when, so it is deleted once.
ALTER TABLE moment_tasks ADD COLUMN tag_deleted_at TIMESTAMP;

-- SMS delivery reports pushed by the providers (POST /sms/{provider}/
-- reports/{key}), each kept once — the providers push again when unsure —
-- and applied to the campaign delivery the provider's id and the number
-- name (applied_at; a report that comes before its send is settled waits).
CREATE TABLE sms_reports (
    id           INTEGER PRIMARY KEY,
    provider     TEXT NOT NULL,
    provider_id  TEXT NOT NULL,   -- Tencent SerialNo (sid), Aliyun BizId
    phone        TEXT NOT NULL,   -- as consent.Phone normalises it
    delivered    BOOLEAN NOT NULL,
    code         TEXT NOT NULL DEFAULT '',
    description  TEXT NOT NULL DEFAULT '',
    session      TEXT NOT NULL DEFAULT '',
    reported_at  TIMESTAMP NOT NULL,
    received_at  TIMESTAMP NOT NULL,
    applied_at   TIMESTAMP,
    UNIQUE (provider, provider_id, phone, delivered)
);
CREATE INDEX sms_reports_pending ON sms_reports (received_at) WHERE applied_at IS NULL;
-- A report finds its delivery by the provider's id (SMS only; rows not
-- handed over yet have none and stay out of the index).
CREATE INDEX campaign_deliveries_sms_provider ON campaign_deliveries (provider_id) WHERE channel = 'sms' AND provider_id <> '';

-- +goose Down
DROP INDEX campaign_deliveries_sms_provider;
DROP TABLE sms_reports;
ALTER TABLE moment_tasks DROP COLUMN tag_deleted_at;
