-- +goose Up
-- The segment index (internal/segment/index) is a cache of who is in which
-- segment. It is built from the tables at start and kept current by reading
-- this change sequence: the triggers below add one row for every write that
-- can move a customer in or out of a segment (customer_id), or a row with no
-- customer when the names the language refers to change (tags, tag groups,
-- members). Every node of a cluster reads the same sequence, so every node
-- answers the same. AUTOINCREMENT: a pruned sequence number is never reused.
CREATE TABLE segment_changes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id INTEGER,   -- NULL: a catalog change (tag, group or member names)
    created_at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- The highest sequence number pruned so far: an index that has read less
-- than this has missed changes and rebuilds.
CREATE TABLE segment_change_horizon (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    pruned_through INTEGER NOT NULL
);
INSERT INTO segment_change_horizon (id, pruned_through) VALUES (1, 0);

-- Frozen segments a campaign keeps: the customer ids as a serialised roaring
-- bitmap (portable format).
CREATE TABLE segment_snapshots (
    id         INTEGER PRIMARY KEY,
    expression TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    count      INTEGER NOT NULL,
    bitmap     BLOB NOT NULL
);

-- customers: the facts and the WeCom identity (consent for wecom rests on it).
-- +goose StatementBegin
CREATE TRIGGER segment_customers_insert AFTER INSERT ON customers BEGIN
    INSERT INTO segment_changes (customer_id) VALUES (new.id);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER segment_customers_delete AFTER DELETE ON customers BEGIN
    INSERT INTO segment_changes (customer_id) VALUES (old.id);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER segment_customers_update AFTER UPDATE ON customers
WHEN old.id IS NOT new.id OR old.external_userid IS NOT new.external_userid
  OR old.order_count IS NOT new.order_count OR old.spent_30d_fen IS NOT new.spent_30d_fen
  OR old.spent_90d_fen IS NOT new.spent_90d_fen OR old.spent_365d_fen IS NOT new.spent_365d_fen
  OR old.spent_total_fen IS NOT new.spent_total_fen OR old.last_order_at IS NOT new.last_order_at
BEGIN
    INSERT INTO segment_changes (customer_id) VALUES (new.id);
    INSERT INTO segment_changes (customer_id) SELECT old.id WHERE old.id <> new.id;
END;
-- +goose StatementEnd

-- follows: member, channel (state), status, added day.
-- +goose StatementBegin
CREATE TRIGGER segment_follows_insert AFTER INSERT ON follows BEGIN
    INSERT INTO segment_changes (customer_id) VALUES (new.customer_id);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER segment_follows_delete AFTER DELETE ON follows BEGIN
    INSERT INTO segment_changes (customer_id) VALUES (old.customer_id);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER segment_follows_update AFTER UPDATE ON follows
WHEN old.customer_id IS NOT new.customer_id OR old.member_userid IS NOT new.member_userid
  OR old.state IS NOT new.state OR old.status IS NOT new.status OR old.added_at IS NOT new.added_at
BEGIN
    INSERT INTO segment_changes (customer_id) VALUES (new.customer_id);
    INSERT INTO segment_changes (customer_id) SELECT old.customer_id WHERE old.customer_id <> new.customer_id;
END;
-- +goose StatementEnd

-- follow_tags: tags and tag groups.
-- +goose StatementBegin
CREATE TRIGGER segment_follow_tags_insert AFTER INSERT ON follow_tags BEGIN
    INSERT INTO segment_changes (customer_id) VALUES (new.customer_id);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER segment_follow_tags_delete AFTER DELETE ON follow_tags BEGIN
    INSERT INTO segment_changes (customer_id) VALUES (old.customer_id);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER segment_follow_tags_update AFTER UPDATE ON follow_tags BEGIN
    INSERT INTO segment_changes (customer_id) VALUES (new.customer_id);
    INSERT INTO segment_changes (customer_id) SELECT old.customer_id WHERE old.customer_id <> new.customer_id;
END;
-- +goose StatementEnd

-- customer_phones: the numbers SMS consent rests on.
-- +goose StatementBegin
CREATE TRIGGER segment_customer_phones_insert AFTER INSERT ON customer_phones BEGIN
    INSERT INTO segment_changes (customer_id) VALUES (new.customer_id);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER segment_customer_phones_delete AFTER DELETE ON customer_phones BEGIN
    INSERT INTO segment_changes (customer_id) VALUES (old.customer_id);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER segment_customer_phones_update AFTER UPDATE ON customer_phones
WHEN old.customer_id IS NOT new.customer_id OR old.member_userid IS NOT new.member_userid OR old.phone_index IS NOT new.phone_index
BEGIN
    INSERT INTO segment_changes (customer_id) VALUES (new.customer_id);
    INSERT INTO segment_changes (customer_id) SELECT old.customer_id WHERE old.customer_id <> new.customer_id;
END;
-- +goose StatementEnd

-- consent_state: marketing consent, mapped to the customers it reaches
-- (external user id, or phone numbers through their blind index).
-- +goose StatementBegin
CREATE TRIGGER segment_consent_insert AFTER INSERT ON consent_state WHEN new.purpose = 'marketing' BEGIN
    INSERT INTO segment_changes (customer_id)
        SELECT id FROM customers WHERE new.person_kind = 'external_userid' AND external_userid = new.person_key;
    INSERT INTO segment_changes (customer_id)
        SELECT DISTINCT customer_id FROM customer_phones WHERE new.person_kind = 'phone' AND new.person_index <> '' AND phone_index = new.person_index;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER segment_consent_delete AFTER DELETE ON consent_state WHEN old.purpose = 'marketing' BEGIN
    INSERT INTO segment_changes (customer_id)
        SELECT id FROM customers WHERE old.person_kind = 'external_userid' AND external_userid = old.person_key;
    INSERT INTO segment_changes (customer_id)
        SELECT DISTINCT customer_id FROM customer_phones WHERE old.person_kind = 'phone' AND old.person_index <> '' AND phone_index = old.person_index;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER segment_consent_update AFTER UPDATE ON consent_state WHEN old.purpose = 'marketing' OR new.purpose = 'marketing' BEGIN
    INSERT INTO segment_changes (customer_id)
        SELECT id FROM customers WHERE old.person_kind = 'external_userid' AND external_userid = old.person_key;
    INSERT INTO segment_changes (customer_id)
        SELECT DISTINCT customer_id FROM customer_phones WHERE old.person_kind = 'phone' AND old.person_index <> '' AND phone_index = old.person_index;
    INSERT INTO segment_changes (customer_id)
        SELECT id FROM customers WHERE new.person_kind = 'external_userid' AND external_userid = new.person_key;
    INSERT INTO segment_changes (customer_id)
        SELECT DISTINCT customer_id FROM customer_phones WHERE new.person_kind = 'phone' AND new.person_index <> '' AND phone_index = new.person_index;
END;
-- +goose StatementEnd

-- The names the language refers to: one catalog row per write.
-- +goose StatementBegin
CREATE TRIGGER segment_tags_insert AFTER INSERT ON tags BEGIN
    INSERT INTO segment_changes (customer_id) VALUES (NULL);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER segment_tags_delete AFTER DELETE ON tags BEGIN
    INSERT INTO segment_changes (customer_id) VALUES (NULL);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER segment_tags_update AFTER UPDATE ON tags
WHEN old.tag_id IS NOT new.tag_id OR old.group_id IS NOT new.group_id OR old.name IS NOT new.name
BEGIN
    INSERT INTO segment_changes (customer_id) VALUES (NULL);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER segment_tag_groups_insert AFTER INSERT ON tag_groups BEGIN
    INSERT INTO segment_changes (customer_id) VALUES (NULL);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER segment_tag_groups_delete AFTER DELETE ON tag_groups BEGIN
    INSERT INTO segment_changes (customer_id) VALUES (NULL);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER segment_tag_groups_update AFTER UPDATE ON tag_groups
WHEN old.group_id IS NOT new.group_id OR old.name IS NOT new.name
BEGIN
    INSERT INTO segment_changes (customer_id) VALUES (NULL);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER segment_members_insert AFTER INSERT ON members BEGIN
    INSERT INTO segment_changes (customer_id) VALUES (NULL);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER segment_members_delete AFTER DELETE ON members BEGIN
    INSERT INTO segment_changes (customer_id) VALUES (NULL);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER segment_members_update AFTER UPDATE ON members
WHEN old.userid IS NOT new.userid OR old.name IS NOT new.name
BEGIN
    INSERT INTO segment_changes (customer_id) VALUES (NULL);
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER segment_members_update;
DROP TRIGGER segment_members_delete;
DROP TRIGGER segment_members_insert;
DROP TRIGGER segment_tag_groups_update;
DROP TRIGGER segment_tag_groups_delete;
DROP TRIGGER segment_tag_groups_insert;
DROP TRIGGER segment_tags_update;
DROP TRIGGER segment_tags_delete;
DROP TRIGGER segment_tags_insert;
DROP TRIGGER segment_consent_update;
DROP TRIGGER segment_consent_delete;
DROP TRIGGER segment_consent_insert;
DROP TRIGGER segment_customer_phones_update;
DROP TRIGGER segment_customer_phones_delete;
DROP TRIGGER segment_customer_phones_insert;
DROP TRIGGER segment_follow_tags_update;
DROP TRIGGER segment_follow_tags_delete;
DROP TRIGGER segment_follow_tags_insert;
DROP TRIGGER segment_follows_update;
DROP TRIGGER segment_follows_delete;
DROP TRIGGER segment_follows_insert;
DROP TRIGGER segment_customers_update;
DROP TRIGGER segment_customers_delete;
DROP TRIGGER segment_customers_insert;
DROP TABLE segment_snapshots;
DROP TABLE segment_change_horizon;
DROP TABLE segment_changes;
