-- +goose Up
-- The audit log: who did what to which personal data, when, why and with
-- what outcome (privacy requirement P-45). Entries are hash-chained (P-46):
-- hash is the SHA-256 of the entry's canonical encoding, which includes
-- prev_hash, the hash of the entry before (see internal/audit/doc.go).
-- Entries are only ever appended: the triggers below refuse UPDATE, DELETE
-- and TRUNCATE, and one more refuses an INSERT that does not continue the
-- chain. A superuser or the table's owner can still drop or disable the
-- triggers; `kith audit verify` and exported checkpoints catch what they
-- then change.
CREATE TABLE audit_log (
    seq         BIGINT PRIMARY KEY,     -- 1, 2, 3, … without gaps, set under an advisory lock
    at          TIMESTAMPTZ NOT NULL,
    actor_kind  TEXT NOT NULL CHECK (actor_kind IN ('user', 'token', 'job', 'system', 'anonymous')),
    actor       TEXT NOT NULL DEFAULT '', -- user name, token name, job kind, …
    action      TEXT NOT NULL,          -- dotted: auth.sign_in, pii.read, …
    object_type TEXT NOT NULL DEFAULT '',
    object_id   TEXT NOT NULL DEFAULT '',
    person      TEXT NOT NULL DEFAULT '', -- pseudonymous id of the data subject
    purpose     TEXT NOT NULL DEFAULT '',
    outcome     TEXT NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')),
    -- a JSON object, kept as TEXT: jsonb would reformat it and break the hash
    detail      TEXT NOT NULL DEFAULT '' CHECK (octet_length(detail) <= 2048),
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL UNIQUE
);
CREATE INDEX audit_log_person ON audit_log (person, seq) WHERE person <> '';
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_at ON audit_log (at);

-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- A new entry must follow the last one: the next seq, and its hash as
-- prev_hash. This keeps the chain linear even if a writer skipped the lock.
-- +goose StatementBegin
CREATE FUNCTION audit_log_linear() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    last_seq  BIGINT;
    last_hash TEXT;
BEGIN
    SELECT seq, hash INTO last_seq, last_hash FROM audit_log ORDER BY seq DESC LIMIT 1;
    IF NEW.seq IS DISTINCT FROM coalesce(last_seq, 0) + 1
       OR NEW.prev_hash IS DISTINCT FROM coalesce(last_hash, repeat('0', 64)) THEN
        RAISE EXCEPTION 'audit_log: a new entry must continue the chain (next seq, last hash as prev_hash)';
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_log_linear BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_linear();

-- +goose Down
DROP TABLE audit_log;
DROP FUNCTION audit_log_linear();
DROP FUNCTION audit_log_append_only();
