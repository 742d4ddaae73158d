-- +goose Up
-- The segment index (internal/segment/index) is a cache of who is in which
-- segment. It is built from the tables at start and kept current by reading
-- this change sequence: the triggers below add one row for every write that
-- can move a customer in or out of a segment (customer_id), or a row with no
-- customer when the names the language refers to change (tags, tag groups,
-- members). Every node of a cluster reads the same sequence, so every node
-- answers the same.
--
-- Sequence numbers are drawn before commit, so a row can become visible
-- after rows with higher numbers: the reader only moves its watermark past
-- numbers whose transactions are all over (see internal/segment/index/tail.go).
CREATE TABLE segment_changes (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id BIGINT,   -- NULL: a catalog change (tag, group or member names)
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The highest sequence number pruned so far: an index that has read less
-- than this has missed changes and rebuilds.
CREATE TABLE segment_change_horizon (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    pruned_through BIGINT NOT NULL
);
INSERT INTO segment_change_horizon (id, pruned_through) VALUES (1, 0);

-- Frozen segments a campaign keeps: the customer ids as a serialised roaring
-- bitmap (portable format).
CREATE TABLE segment_snapshots (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    expression TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    count      BIGINT NOT NULL,
    bitmap     BYTEA NOT NULL
);

-- Tables with a customer_id column (follows, follow_tags, customer_phones)
-- and customers itself (id).
-- +goose StatementBegin
CREATE FUNCTION segment_change_customer() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_id BIGINT;
    new_id BIGINT;
BEGIN
    -- Separate statements: a record field is only looked up when its
    -- statement runs, and customers has id where the others have customer_id.
    IF TG_OP <> 'INSERT' THEN
        IF TG_TABLE_NAME = 'customers' THEN old_id := OLD.id; ELSE old_id := OLD.customer_id; END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF TG_TABLE_NAME = 'customers' THEN new_id := NEW.id; ELSE new_id := NEW.customer_id; END IF;
    END IF;
    IF old_id IS NOT NULL THEN
        INSERT INTO segment_changes (customer_id) VALUES (old_id);
    END IF;
    IF new_id IS NOT NULL AND new_id IS DISTINCT FROM old_id THEN
        INSERT INTO segment_changes (customer_id) VALUES (new_id);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- consent_state: marketing consent, mapped to the customers it reaches
-- (external user id, or phone numbers through their blind index).
-- +goose StatementBegin
CREATE FUNCTION segment_change_consent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.purpose = 'marketing' THEN
        INSERT INTO segment_changes (customer_id)
            SELECT id FROM customers WHERE OLD.person_kind = 'external_userid' AND external_userid = OLD.person_key;
        INSERT INTO segment_changes (customer_id)
            SELECT DISTINCT customer_id FROM customer_phones WHERE OLD.person_kind = 'phone' AND OLD.person_index <> '' AND phone_index = OLD.person_index;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.purpose = 'marketing' THEN
        INSERT INTO segment_changes (customer_id)
            SELECT id FROM customers WHERE NEW.person_kind = 'external_userid' AND external_userid = NEW.person_key;
        INSERT INTO segment_changes (customer_id)
            SELECT DISTINCT customer_id FROM customer_phones WHERE NEW.person_kind = 'phone' AND NEW.person_index <> '' AND phone_index = NEW.person_index;
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- The names the language refers to: one catalog row per statement.
-- +goose StatementBegin
CREATE FUNCTION segment_change_catalog() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO segment_changes (customer_id) VALUES (NULL);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER segment_customers_insert_delete AFTER INSERT OR DELETE ON customers
    FOR EACH ROW EXECUTE FUNCTION segment_change_customer();
CREATE TRIGGER segment_customers_update AFTER UPDATE ON customers FOR EACH ROW
    WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.external_userid IS DISTINCT FROM NEW.external_userid
      OR OLD.order_count IS DISTINCT FROM NEW.order_count OR OLD.spent_30d_fen IS DISTINCT FROM NEW.spent_30d_fen
      OR OLD.spent_90d_fen IS DISTINCT FROM NEW.spent_90d_fen OR OLD.spent_365d_fen IS DISTINCT FROM NEW.spent_365d_fen
      OR OLD.spent_total_fen IS DISTINCT FROM NEW.spent_total_fen OR OLD.last_order_at IS DISTINCT FROM NEW.last_order_at)
    EXECUTE FUNCTION segment_change_customer();

CREATE TRIGGER segment_follows_insert_delete AFTER INSERT OR DELETE ON follows
    FOR EACH ROW EXECUTE FUNCTION segment_change_customer();
CREATE TRIGGER segment_follows_update AFTER UPDATE ON follows FOR EACH ROW
    WHEN (OLD.customer_id IS DISTINCT FROM NEW.customer_id OR OLD.member_userid IS DISTINCT FROM NEW.member_userid
      OR OLD.state IS DISTINCT FROM NEW.state OR OLD.status IS DISTINCT FROM NEW.status OR OLD.added_at IS DISTINCT FROM NEW.added_at)
    EXECUTE FUNCTION segment_change_customer();

CREATE TRIGGER segment_follow_tags_change AFTER INSERT OR DELETE OR UPDATE ON follow_tags
    FOR EACH ROW EXECUTE FUNCTION segment_change_customer();

CREATE TRIGGER segment_customer_phones_insert_delete AFTER INSERT OR DELETE ON customer_phones
    FOR EACH ROW EXECUTE FUNCTION segment_change_customer();
CREATE TRIGGER segment_customer_phones_update AFTER UPDATE ON customer_phones FOR EACH ROW
    WHEN (OLD.customer_id IS DISTINCT FROM NEW.customer_id OR OLD.member_userid IS DISTINCT FROM NEW.member_userid
      OR OLD.phone_index IS DISTINCT FROM NEW.phone_index)
    EXECUTE FUNCTION segment_change_customer();

CREATE TRIGGER segment_consent_change AFTER INSERT OR DELETE OR UPDATE ON consent_state
    FOR EACH ROW EXECUTE FUNCTION segment_change_consent();

CREATE TRIGGER segment_tags_change AFTER INSERT OR DELETE OR UPDATE ON tags
    FOR EACH STATEMENT EXECUTE FUNCTION segment_change_catalog();
CREATE TRIGGER segment_tag_groups_change AFTER INSERT OR DELETE OR UPDATE ON tag_groups
    FOR EACH STATEMENT EXECUTE FUNCTION segment_change_catalog();
CREATE TRIGGER segment_members_change AFTER INSERT OR DELETE OR UPDATE ON members
    FOR EACH STATEMENT EXECUTE FUNCTION segment_change_catalog();

-- +goose Down
DROP TRIGGER segment_members_change ON members;
DROP TRIGGER segment_tag_groups_change ON tag_groups;
DROP TRIGGER segment_tags_change ON tags;
DROP TRIGGER segment_consent_change ON consent_state;
DROP TRIGGER segment_customer_phones_update ON customer_phones;
DROP TRIGGER segment_customer_phones_insert_delete ON customer_phones;
DROP TRIGGER segment_follow_tags_change ON follow_tags;
DROP TRIGGER segment_follows_update ON follows;
DROP TRIGGER segment_follows_insert_delete ON follows;
DROP TRIGGER segment_customers_update ON customers;
DROP TRIGGER segment_customers_insert_delete ON customers;
DROP FUNCTION segment_change_catalog();
DROP FUNCTION segment_change_consent();
DROP FUNCTION segment_change_customer();
DROP TABLE segment_snapshots;
DROP TABLE segment_change_horizon;
DROP TABLE segment_changes;
