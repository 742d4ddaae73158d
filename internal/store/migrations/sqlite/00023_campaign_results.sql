-- +goose Up
-- Campaign results and planning speed (issue 7). A delivery has no batch
-- until it is claimed, and every lookup by batch names one: the index on
-- batch_id leaves the NULLs out, so planning a million deliveries writes
-- one index entry fewer per row. The opt-outs after a campaign are read
-- from the consent ledger by person and time (consent_events_state).
DROP INDEX campaign_deliveries_batch;
CREATE INDEX campaign_deliveries_batch ON campaign_deliveries (batch_id) WHERE batch_id IS NOT NULL;

-- +goose Down
DROP INDEX campaign_deliveries_batch;
CREATE INDEX campaign_deliveries_batch ON campaign_deliveries (batch_id);
