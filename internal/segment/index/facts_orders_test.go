package index

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/kith-scrm/kith/internal/segment"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// Each fact of 00017 alone reaches the index through the change sequence
// (migration 00019's triggers): a write to one column, one customer_skus
// row or the catalogue, then a Step, and the index answers the new value.
func TestTailAppliesOrderFacts(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		seedFixture(t, db)
		ix := mustOpen(t, db, &fixedClock{testNow})
		for _, c := range []struct {
			column string
			value  any
			term   *segment.Term
		}{
			{"avg_order_fen", 20000, num(segment.FieldAOV, segment.OpGe, 20000)},
			{"refund_count", 2, num(segment.FieldRefunds, segment.OpEq, 2)},
			{"refund_fen", 5000, num(segment.FieldRefunded, segment.OpGe, 5000)},
			{"rfm_score", 545, num(segment.FieldRFM, segment.OpEq, 545)},
			{"rfm_r", 5, num(segment.FieldRFMR, segment.OpEq, 5)},
			{"rfm_f", 4, num(segment.FieldRFMF, segment.OpEq, 4)},
			{"rfm_m", 3, num(segment.FieldRFMM, segment.OpEq, 3)},
			{"first_order_at", sh(2026, 1, 2, 0, 5), date(segment.FieldFirstOrder, segment.OpEq, day(2026, 1, 2))},
		} {
			wantIDs(t, ix, c.term)
			storetest.MustExec(t, db, `UPDATE customers SET `+c.column+` = $1 WHERE id = 3`, c.value)
			mustStep(t, ix)
			wantIDs(t, ix, c.term, 3)
		}
		wantIDs(t, ix, date(segment.FieldFirstOrder, segment.OpLt, day(2026, 1, 2)))
		wantIDs(t, ix, not(num(segment.FieldRFM, segment.OpEq, 0)), 3)

		// What customers bought, and the catalogue.
		sku, cat := set(segment.FieldSKU, "A1"), set(segment.FieldCategory, "女装")
		storetest.MustExec(t, db, `INSERT INTO sku_categories (sku, category, updated_at) VALUES ('A1', '女装', $1), ('B2', '鞋', $1)`, testNow)
		mustStep(t, ix)
		if !ix.Has(segment.FieldSKU, "B2") || !ix.Has(segment.FieldCategory, "鞋") || ix.Has(segment.FieldSKU, "C3") {
			t.Errorf("the catalogue: %v", ix.Names(segment.FieldSKU))
		}
		wantIDs(t, ix, cat)
		for _, id := range []int64{1, 4} {
			storetest.MustExec(t, db, `INSERT INTO customer_skus (customer_id, sku, category, orders, quantity, spent_fen, first_at, last_at)
VALUES ($1, 'A1', '女装', 1, 1, 100, $2, $2)`, id, testNow)
		}
		storetest.MustExec(t, db, `INSERT INTO customer_skus (customer_id, sku, category, orders, quantity, spent_fen, first_at, last_at)
VALUES (5, 'C3', '', 1, 1, 100, $1, $1)`, testNow)
		mustStep(t, ix)
		wantIDs(t, ix, sku, 1, 4)
		wantIDs(t, ix, cat, 1, 4)
		wantIDs(t, ix, set(segment.FieldSKU, "C3"), 5)
		if got := strings.Join(ix.Names(segment.FieldSKU), " "); got != "A1 B2 C3" || !ix.Has(segment.FieldSKU, "C3") {
			t.Errorf("SKU names %s", got)
		}
		// The catalogue moves A1 (customer_skus follows, as orders does).
		storetest.MustExec(t, db, `UPDATE sku_categories SET category = '鞋' WHERE sku = 'A1'`)
		storetest.MustExec(t, db, `UPDATE customer_skus SET category = '鞋' WHERE sku = 'A1'`)
		mustStep(t, ix)
		wantIDs(t, ix, cat)
		wantIDs(t, ix, set(segment.FieldCategory, "鞋"), 1, 4)
		if ix.Has(segment.FieldCategory, "女装") {
			t.Error("女装 is still a category")
		}
		storetest.MustExec(t, db, `DELETE FROM customer_skus WHERE customer_id = 4`)
		mustStep(t, ix)
		wantIDs(t, ix, sku, 1)
		// Check suggests from the index.
		err := segment.Check(segment.MustParse("sku:A2"), ix)
		if err == nil || !strings.Contains(err.Error(), "did you mean sku:A1?") {
			t.Errorf("Check = %v", err)
		}
		// A fresh build agrees.
		fresh := mustOpen(t, db, &fixedClock{testNow})
		for _, e := range []segment.Expr{sku, set(segment.FieldCategory, "鞋"), num(segment.FieldRFM, segment.OpEq, 545), date(segment.FieldFirstOrder, segment.OpGe, 0)} {
			if a, b := ids(t, ix, e), ids(t, fresh, e); !slices.Equal(a, b) {
				t.Errorf("%s: tailed %v, built %v", segment.String(e), a, b)
			}
		}
		if n, err := fresh.Count(context.Background(), segment.MustParse("category:鞋 or rfm >= 500")); err != nil || n != 2 {
			t.Errorf("count = %d, %v", n, err)
		}
	})
}
