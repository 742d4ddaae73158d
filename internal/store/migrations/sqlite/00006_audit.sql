-- +goose Up
-- The audit log: who did what to which personal data, when, why and with
-- what outcome (privacy requirement P-45). Entries are hash-chained (P-46):
-- hash is the SHA-256 of the entry's canonical encoding, which includes
-- prev_hash, the hash of the entry before (see internal/audit/doc.go).
-- Entries are only ever appended: the triggers below refuse UPDATE and
-- DELETE, and one more refuses an INSERT that does not continue the chain.
-- Whoever can write the file can still drop the triggers; `kith audit
-- verify` and exported checkpoints catch what they then change.
CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,    -- 1, 2, 3, … without gaps
    at          TIMESTAMP NOT NULL,     -- UTC, microseconds
    actor_kind  TEXT NOT NULL CHECK (actor_kind IN ('user', 'token', 'job', 'system', 'anonymous')),
    actor       TEXT NOT NULL DEFAULT '', -- user name, token name, job kind, …
    action      TEXT NOT NULL,          -- dotted: auth.sign_in, pii.read, …
    object_type TEXT NOT NULL DEFAULT '',
    object_id   TEXT NOT NULL DEFAULT '',
    person      TEXT NOT NULL DEFAULT '', -- pseudonymous id of the data subject
    purpose     TEXT NOT NULL DEFAULT '',
    outcome     TEXT NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')),
    detail      TEXT NOT NULL DEFAULT '' CHECK (length(CAST(detail AS BLOB)) <= 2048), -- a JSON object, hashed byte for byte
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL UNIQUE
);
CREATE INDEX audit_log_person ON audit_log (person, seq) WHERE person <> '';
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_at ON audit_log (at);

-- +goose StatementBegin
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
-- +goose StatementEnd
-- A new entry must follow the last one: the next seq, and its hash as
-- prev_hash. This keeps the chain linear even if a writer skipped the lock.
-- +goose StatementBegin
CREATE TRIGGER audit_log_linear BEFORE INSERT ON audit_log
WHEN new.seq IS NOT coalesce((SELECT max(seq) FROM audit_log), 0) + 1
  OR new.prev_hash IS NOT coalesce((SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1), '0000000000000000000000000000000000000000000000000000000000000000')
BEGIN
    SELECT RAISE(ABORT, 'audit_log: a new entry must continue the chain (next seq, last hash as prev_hash)');
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE audit_log;
