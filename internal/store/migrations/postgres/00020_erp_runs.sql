-- +goose Up
-- Pulls of the ERP connector (internal/orders/jst; issue 8): when each ran,
-- on which node, what it read and wrote, where its cursor ended and how it
-- failed. The connector's settings are in settings (keys jst.*, secrets
-- sealed) and its cursor in order_cursors.
CREATE TABLE erp_runs (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    connector    TEXT NOT NULL,              -- jst
    trigger      TEXT NOT NULL DEFAULT '',   -- schedule, console, cli, start
    requested_by TEXT NOT NULL DEFAULT '',
    node         TEXT NOT NULL DEFAULT '',
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ,
    calls        INTEGER NOT NULL DEFAULT 0,
    orders_read  INTEGER NOT NULL DEFAULT 0,
    inserted     INTEGER NOT NULL DEFAULT 0,
    updated      INTEGER NOT NULL DEFAULT 0,
    unchanged    INTEGER NOT NULL DEFAULT 0,
    conflicts    INTEGER NOT NULL DEFAULT 0,
    rejected     INTEGER NOT NULL DEFAULT 0, -- invalid, merged or split orders
    cursor       TEXT NOT NULL DEFAULT '',   -- where the cursor stood at the end
    error        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX erp_runs_connector ON erp_runs (connector, started_at);
-- At most one pull of a connector runs at a time, across all nodes.
CREATE UNIQUE INDEX erp_runs_one_running ON erp_runs (connector) WHERE finished_at IS NULL;

-- +goose Down
DROP TABLE erp_runs;
