-- +goose Up
-- Instance settings edited in the console. Secret values are sealed with
-- the field key (fieldcrypt) before they are stored.
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    updated_by TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE settings;
