-- +goose Up
-- The segment index's build reads every customer a marketing grant reaches
-- (internal/segment/index, reachable:wecom and reachable:sms). Through the
-- table that was a seek per grant into consent_state beside the seek into
-- the person's table; these partial indexes hold just the grants that
-- count, with every column the read needs (covering: the WHERE's columns
-- too, so that SQLite reads no table row), in the order of the key the
-- read joins on, so the join's seeks also go in key order.
CREATE INDEX consent_state_wecom_grants ON consent_state
    (person_key, valid_until, person_kind, purpose, channel, action, suppressed)
    WHERE person_kind = 'external_userid' AND purpose = 'marketing' AND channel = 'wecom' AND action = 'grant' AND suppressed = FALSE;
CREATE INDEX consent_state_sms_grants ON consent_state
    (person_index, valid_until, person_kind, purpose, channel, action, suppressed)
    WHERE person_kind = 'phone' AND purpose = 'marketing' AND channel = 'sms' AND action = 'grant' AND suppressed = FALSE;
-- The phone's blind index finds its customers without reading the row.
DROP INDEX customer_phones_index;
CREATE INDEX customer_phones_index ON customer_phones (phone_index, customer_id);

-- +goose Down
DROP INDEX customer_phones_index;
CREATE INDEX customer_phones_index ON customer_phones (phone_index);
DROP INDEX consent_state_sms_grants;
DROP INDEX consent_state_wecom_grants;
