-- +goose Up
-- The segment language asks about the facts of 00017 too (sku, category,
-- aov, refunds, refunded, rfm*, first_order): the change sequence of 00012
-- must carry their writes, so the segment index sees them.

-- customers: the update trigger of 00012, with the new fact columns.
DROP TRIGGER segment_customers_update;
-- +goose StatementBegin
CREATE TRIGGER segment_customers_update AFTER UPDATE ON customers
WHEN old.id IS NOT new.id OR old.external_userid IS NOT new.external_userid
  OR old.order_count IS NOT new.order_count OR old.spent_30d_fen IS NOT new.spent_30d_fen
  OR old.spent_90d_fen IS NOT new.spent_90d_fen OR old.spent_365d_fen IS NOT new.spent_365d_fen
  OR old.spent_total_fen IS NOT new.spent_total_fen OR old.last_order_at IS NOT new.last_order_at
  OR old.first_order_at IS NOT new.first_order_at OR old.avg_order_fen IS NOT new.avg_order_fen
  OR old.refund_count IS NOT new.refund_count OR old.refund_fen IS NOT new.refund_fen
  OR old.rfm_r IS NOT new.rfm_r OR old.rfm_f IS NOT new.rfm_f OR old.rfm_m IS NOT new.rfm_m
  OR old.rfm_score IS NOT new.rfm_score
BEGIN
    INSERT INTO segment_changes (customer_id) VALUES (new.id);
    INSERT INTO segment_changes (customer_id) SELECT old.id WHERE old.id <> new.id;
END;
-- +goose StatementEnd

-- customer_skus: sku and category terms.
-- +goose StatementBegin
CREATE TRIGGER segment_customer_skus_insert AFTER INSERT ON customer_skus BEGIN
    INSERT INTO segment_changes (customer_id) VALUES (new.customer_id);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER segment_customer_skus_delete AFTER DELETE ON customer_skus BEGIN
    INSERT INTO segment_changes (customer_id) VALUES (old.customer_id);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER segment_customer_skus_update AFTER UPDATE ON customer_skus
WHEN old.customer_id IS NOT new.customer_id OR old.sku IS NOT new.sku OR old.category IS NOT new.category
BEGIN
    INSERT INTO segment_changes (customer_id) VALUES (new.customer_id);
    INSERT INTO segment_changes (customer_id) SELECT old.customer_id WHERE old.customer_id <> new.customer_id;
END;
-- +goose StatementEnd

-- sku_categories: the names sku and category know (a catalog row).
-- +goose StatementBegin
CREATE TRIGGER segment_sku_categories_insert AFTER INSERT ON sku_categories BEGIN
    INSERT INTO segment_changes (customer_id) VALUES (NULL);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER segment_sku_categories_delete AFTER DELETE ON sku_categories BEGIN
    INSERT INTO segment_changes (customer_id) VALUES (NULL);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER segment_sku_categories_update AFTER UPDATE ON sku_categories
WHEN old.sku IS NOT new.sku OR old.category IS NOT new.category
BEGIN
    INSERT INTO segment_changes (customer_id) VALUES (NULL);
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER segment_sku_categories_update;
DROP TRIGGER segment_sku_categories_delete;
DROP TRIGGER segment_sku_categories_insert;
DROP TRIGGER segment_customer_skus_update;
DROP TRIGGER segment_customer_skus_delete;
DROP TRIGGER segment_customer_skus_insert;
DROP TRIGGER segment_customers_update;
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
