-- +goose Up
-- Full syncs with WeCom: when they ran, how far they got, and how they ended.
CREATE TABLE sync_runs (
    id          INTEGER PRIMARY KEY,
    started_at  TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status      TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed')),
    trigger     TEXT NOT NULL DEFAULT '',   -- cli, console, schedule, start
    members     INTEGER NOT NULL DEFAULT 0,
    tags        INTEGER NOT NULL DEFAULT 0,
    customers   INTEGER NOT NULL DEFAULT 0,
    relations   INTEGER NOT NULL DEFAULT 0,
    ended       INTEGER NOT NULL DEFAULT 0, -- relations found gone
    error       TEXT NOT NULL DEFAULT ''
);
-- At most one full sync runs at a time, across all nodes.
CREATE UNIQUE INDEX sync_runs_one_running ON sync_runs (status) WHERE status = 'running';

-- +goose Down
DROP TABLE sync_runs;
