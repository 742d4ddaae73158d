-- +goose Up
-- The segment language asks about the facts of 00017 too (sku, category,
-- aov, refunds, refunded, rfm*, first_order): the change sequence of 00012
-- must carry their writes, so the segment index sees them.

-- customers: the update trigger of 00012, with the new fact columns.
DROP TRIGGER segment_customers_update ON customers;
CREATE TRIGGER segment_customers_update AFTER UPDATE ON customers FOR EACH ROW
    WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.external_userid IS DISTINCT FROM NEW.external_userid
      OR OLD.order_count IS DISTINCT FROM NEW.order_count OR OLD.spent_30d_fen IS DISTINCT FROM NEW.spent_30d_fen
      OR OLD.spent_90d_fen IS DISTINCT FROM NEW.spent_90d_fen OR OLD.spent_365d_fen IS DISTINCT FROM NEW.spent_365d_fen
      OR OLD.spent_total_fen IS DISTINCT FROM NEW.spent_total_fen OR OLD.last_order_at IS DISTINCT FROM NEW.last_order_at
      OR OLD.first_order_at IS DISTINCT FROM NEW.first_order_at OR OLD.avg_order_fen IS DISTINCT FROM NEW.avg_order_fen
      OR OLD.refund_count IS DISTINCT FROM NEW.refund_count OR OLD.refund_fen IS DISTINCT FROM NEW.refund_fen
      OR OLD.rfm_r IS DISTINCT FROM NEW.rfm_r OR OLD.rfm_f IS DISTINCT FROM NEW.rfm_f OR OLD.rfm_m IS DISTINCT FROM NEW.rfm_m
      OR OLD.rfm_score IS DISTINCT FROM NEW.rfm_score)
    EXECUTE FUNCTION segment_change_customer();

-- customer_skus: sku and category terms.
CREATE TRIGGER segment_customer_skus_insert_delete AFTER INSERT OR DELETE ON customer_skus
    FOR EACH ROW EXECUTE FUNCTION segment_change_customer();
CREATE TRIGGER segment_customer_skus_update AFTER UPDATE ON customer_skus FOR EACH ROW
    WHEN (OLD.customer_id IS DISTINCT FROM NEW.customer_id OR OLD.sku IS DISTINCT FROM NEW.sku
      OR OLD.category IS DISTINCT FROM NEW.category)
    EXECUTE FUNCTION segment_change_customer();

-- sku_categories: the names sku and category know (a catalog row).
CREATE TRIGGER segment_sku_categories_change AFTER INSERT OR DELETE OR UPDATE ON sku_categories
    FOR EACH STATEMENT EXECUTE FUNCTION segment_change_catalog();

-- +goose Down
DROP TRIGGER segment_sku_categories_change ON sku_categories;
DROP TRIGGER segment_customer_skus_update ON customer_skus;
DROP TRIGGER segment_customer_skus_insert_delete ON customer_skus;
DROP TRIGGER segment_customers_update ON customers;
CREATE TRIGGER segment_customers_update AFTER UPDATE ON customers FOR EACH ROW
    WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.external_userid IS DISTINCT FROM NEW.external_userid
      OR OLD.order_count IS DISTINCT FROM NEW.order_count OR OLD.spent_30d_fen IS DISTINCT FROM NEW.spent_30d_fen
      OR OLD.spent_90d_fen IS DISTINCT FROM NEW.spent_90d_fen OR OLD.spent_365d_fen IS DISTINCT FROM NEW.spent_365d_fen
      OR OLD.spent_total_fen IS DISTINCT FROM NEW.spent_total_fen OR OLD.last_order_at IS DISTINCT FROM NEW.last_order_at)
    EXECUTE FUNCTION segment_change_customer();
