package app

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/orders"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/segment"
	"github.com/kith-scrm/kith/internal/segment/index"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// The sandbox's demo orders give segments on the order facts something to
// count: some customers, not all, match aov, a category, refunds and RFM
// terms; a second start writes nothing.
func TestSandboxDemoOrders(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)
		p, err := protect.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
		if err != nil {
			t.Fatal(err)
		}
		s := orders.NewStore(db, p, kith.NewFixedClock(now))
		const customers = 300
		if err := db.InTx(ctx, func(tx *sql.Tx) error {
			for i := range customers {
				if _, err := customer.ApplyCustomer(ctx, tx, customer.Customer{ExternalUserID: fmt.Sprintf("wm%04d", i), Name: "客户", Type: 1}, now); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		n, err := seedDemoOrders(ctx, db, s, now, SandboxSeed)
		if err != nil || n < customers/5 {
			t.Fatalf("seedDemoOrders = %d, %v", n, err)
		}
		ix, err := index.Open(ctx, db, time.UTC, kith.NewFixedClock(now))
		if err != nil {
			t.Fatal(err)
		}
		for _, expr := range []string{"orders >= 1", "aov >= 100", "category:绿茶", "sku:LJ-250", "refunds >= 1", "rfm >= 400",
			"rfm_f = 5", "first_order >= 2026-06-01", "spent_90d >= 500"} {
			e := segment.MustParse(expr)
			if err := segment.Check(e, ix); err != nil {
				t.Errorf("%s: %v", expr, err)
				continue
			}
			got, err := ix.Count(ctx, e)
			if err != nil || got == 0 || got >= customers {
				t.Errorf("%s: %d customers (%v), want some but not all", expr, got, err)
			}
		}
		if again, err := seedDemoOrders(ctx, db, s, now.Add(time.Hour), SandboxSeed); err != nil || again != 0 {
			t.Errorf("a second start wrote %d orders (%v)", again, err)
		}
	})
}
