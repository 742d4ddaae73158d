-- +goose Up
-- consent_state_seq.built says consent_state holds the fold of every
-- consent event: BackfillState sets it once it folded the events recorded
-- before 00011, and every writer of the ledger keeps the table so since.
-- A database with no consent event yet has nothing to fold, so its table
-- is complete from the start. The gate's re-check at send time
-- (gate.ConsumeBatch, through consent.Ledger.CurrentStates) reads the
-- table only when built, and folds the events otherwise (issue 7).
UPDATE consent_state_seq SET built = TRUE WHERE NOT EXISTS (SELECT 1 FROM consent_events);

-- +goose Down
-- Nothing to undo: a table marked built holds the fold either way.
SELECT 1;
