-- +goose Up
-- Planning speed (issue 7). SQLite checks "state IN ('refused', …)" by
-- building a temporary index of the eight values for every row written,
-- which cost about 1.7 µs a row: a second and a half of a million-recipient
-- plan, and again on every state change while sending. The same rule as a
-- chain of ORs is checked in a few comparisons. SQLite cannot change a
-- CHECK constraint in place, so the table is rebuilt (it is no table's
-- parent) and its indexes made again.
CREATE TABLE campaign_deliveries_new (
    campaign_id  INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    customer_id  INTEGER NOT NULL,
    channel      TEXT NOT NULL,
    sender       TEXT NOT NULL DEFAULT '',    -- the WeCom member who sends it
    state        TEXT NOT NULL CHECK (state = 'refused' OR state = 'planned' OR state = 'claimed' OR state = 'sent' OR
                     state = 'delivered' OR state = 'failed' OR state = 'unknown' OR state = 'cancelled'),
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
ALTER TABLE campaign_deliveries_new RENAME TO campaign_deliveries;
CREATE INDEX campaign_deliveries_state ON campaign_deliveries (campaign_id, state, sender);
CREATE INDEX campaign_deliveries_batch ON campaign_deliveries (batch_id) WHERE batch_id IS NOT NULL;

-- +goose Down
-- The OR chain allows exactly what the IN list did: nothing to undo.
SELECT 1;
