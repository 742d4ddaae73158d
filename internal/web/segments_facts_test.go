package web_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// The builder knows the facts of the orders work: categories and SKUs
// bought are clickable terms, the help names every new field, and the
// count answers them.
func TestSegmentBuilderOrderFacts(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	db := mustStore(t, in)
	seedDirectory(t, db, 30)
	storetest.MustExec(t, db, `INSERT INTO sku_categories (sku, category, updated_at) VALUES ('SKU-1', '女装', $1)`, seedTime)
	storetest.MustExec(t, db, `INSERT INTO customer_skus (customer_id, sku, category, orders, quantity, spent_fen, first_at, last_at)
SELECT id, 'SKU-1', '女装', 1, 1, 100, $1, $1 FROM customers WHERE id <= 4`, seedTime)
	storetest.MustExec(t, db, `UPDATE customers SET avg_order_fen = 25000, rfm_r = 5, rfm_f = 5, rfm_m = 5, rfm_score = 555 WHERE id <= 2`)
	op := signedIn(t, in, auth.RoleOperator)

	preview := func(expr string) string {
		_, body := op.do("GET", "/segments/preview?expr="+url.QueryEscape(expr), nil, htmx("segment-preview"))
		return body
	}
	deadline := time.Now().Add(10 * time.Second)
	for body := preview("category:女装"); !strings.Contains(body, "counted by the index") || countOf(t, body) != "4"; body = preview("category:女装") {
		if time.Now().After(deadline) {
			t.Fatalf("the index did not answer: %s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for expr, want := range map[string]string{
		"aov >= 200":                  "2",
		"rfm:555 and category:女装":     "2",
		"sku:SKU-1 and not rfm_r = 5": "2",
		"refunds >= 1":                "0",
	} {
		if got := countOf(t, preview(expr)); got != want {
			t.Errorf("%s: %s customers, want %s", expr, got, want)
		}
	}
	mustContain(t, "unknown category", preview("category:女裝"), "category:女装")

	body := op.get("/segments", 200)
	mustContain(t, "builder", body, `hx-get="/segments?add=category:女装"`, `hx-get="/segments?add=sku:SKU-1"`,
		`hx-get="/segments?add=aov &gt;= 200"`, `hx-get="/segments?add=rfm:555"`, "Categories bought", "first_order", "refunded")
}
