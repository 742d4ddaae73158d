package orders_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/orders"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

func TestShopKey(t *testing.T) {
	for _, c := range []struct{ platform, name, want string }{
		{"taobao", "天猫旗舰店", "taobao:天猫旗舰店"},
		{" Taobao ", "  天猫  旗舰店 ", "taobao:天猫 旗舰店"},
		{"pdd", "店（一）　Ａ", "pdd:店(一) A"}, // full-width brackets, space and letter
	} {
		if got := orders.ShopKey(c.platform, c.name); got != c.want {
			t.Errorf("ShopKey(%q, %q) = %q, want %q", c.platform, c.name, got, c.want)
		}
	}
}

func TestOrdersNeverMoveBackAndOtherSourcesAgree(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		at := now.Add(-48 * time.Hour)
		base := order("N1", 12800, at)
		if out := f.put(t, base); out[0] != orders.Inserted {
			t.Fatalf("insert %v", out)
		}
		older := base
		older.Status = orders.StatusPaid
		if out := f.put(t, older); out[0] != orders.Unchanged {
			t.Fatalf("an older state from the same source: %v", out)
		}
		// Another source with other details but the same amount and time.
		other := base
		other.Source = "erp:jst:main"
		other.Items = []orders.Item{{SKU: "SKU-9", Title: "龙井", Quantity: 1, PriceFen: 12800}}
		other.BuyerAccount = "tb_x"
		if out := f.put(t, other); out[0] != orders.Unchanged {
			t.Fatalf("the same order from another source: %v", out)
		}
		other.Status = orders.StatusRefunded
		other.RefundFen = 12800
		if out := f.put(t, other); out[0] != orders.Updated {
			t.Fatalf("further along from another source: %v", out)
		}
		var st string
		db.R.QueryRow(`SELECT status FROM orders WHERE order_no = 'N1'`).Scan(&st)
		if st != "refunded" {
			t.Fatalf("status %s", st)
		}
		if out := f.put(t, base); out[0] != orders.Unchanged {
			t.Fatalf("the file again after the refund: %v", out)
		}
		other.TotalFen = 13000
		other.RefundFen = 0
		if out := f.put(t, other); out[0] != orders.Conflict {
			t.Fatalf("another amount from another source: %v", out)
		}
		same := base
		same.Items = other.Items
		if out := f.put(t, same); out[0] != orders.Conflict {
			t.Fatalf("other items from the same source: %v", out)
		}
	})
}

// TestWebhookPlatformSharesShopKeys: a webhook order that names its
// platform gets the shop key a file and the connector give the same shop,
// so it is the order already stored, not a second one; without a platform
// it stays under the source's own key; a malformed platform is refused.
func TestWebhookPlatformSharesShopKeys(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		at := now.Add(-72 * time.Hour).UTC()
		if out := f.put(t, order("N7", 12800, at)); out[0] != orders.Inserted {
			t.Fatalf("file order: %v", out)
		}
		body := func(platform string) []byte {
			return []byte(fmt.Sprintf(`{"orders":[{"shop":" 旗舰店","platform":%q,"order_no":"N7","status":"completed","total_fen":12800,
				"ordered_at":%q,"paid_at":%q,"items":[{"sku":"SKU-1","title":"茶叶","quantity":1,"price_fen":12800}]}]}`,
				platform, at.Format(time.RFC3339), at.Add(time.Minute).Format(time.RFC3339)))
		}
		res, err := f.s.ReceiveWebhook(ctx, "erp", body("Taobao"))
		if err != nil || res.Inserted != 0 || len(res.Conflicts) != 0 || res.Unchanged+res.Updated != 1 {
			t.Fatalf("webhook with the platform: %+v %v", res, err)
		}
		count := func() (n int) {
			if err := db.R.QueryRow(`SELECT count(*) FROM orders WHERE order_no = 'N7'`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := count(); n != 1 {
			t.Fatalf("%d orders N7 after the webhook named its platform, want 1", n)
		}
		if res, err := f.s.ReceiveWebhook(ctx, "erp", body("")); err != nil || res.Inserted != 1 {
			t.Fatalf("webhook without a platform: %+v %v", res, err)
		}
		if n := count(); n != 2 {
			t.Fatalf("%d orders N7, want 2 (erp:旗舰店 is its own shop)", n)
		}
		_, err = f.s.ReceiveWebhook(ctx, "erp", body("tao bao"))
		if kith.ErrorCode(err) != kith.EINVALID || !strings.Contains(kith.ErrorMessage(err), `platform "tao bao"`) {
			t.Fatalf("a platform with a space: %v", err)
		}
	})
}
