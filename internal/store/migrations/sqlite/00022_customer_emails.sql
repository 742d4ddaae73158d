-- +goose Up
-- Customers' e-mail addresses (issue 7, e-mail campaigns) are protected
-- values (owner_kind 'customer', field 'email'); each records where it
-- came from (console, import, webhook, api) and who added it.
ALTER TABLE protected_values ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE protected_values ADD COLUMN added_by TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE protected_values DROP COLUMN added_by;
ALTER TABLE protected_values DROP COLUMN source;
