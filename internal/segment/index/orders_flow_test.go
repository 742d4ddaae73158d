package index_test

import (
	"bytes"
	"context"
	"database/sql"
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

// The facts flow from an order file into segment counts: import (which
// joins orders to customers and sets their facts), the catalogue and the
// daily RFM job, then the index built from the database answers, the same
// as the reference SQL; a second import reaches the built index through
// the change sequence.
func TestImportedOrdersReachSegmentCounts(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		shanghai, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			t.Fatal(err)
		}
		clock := kith.NewFixedClock(time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC))
		p, err := protect.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
		if err != nil {
			t.Fatal(err)
		}
		s := orders.NewStore(db, p, clock)
		s.Location = shanghai
		for _, ext := range []string{"wmA", "wmB", "wmC"} {
			if err := db.InTx(ctx, func(tx *sql.Tx) error {
				_, err := customer.ApplyCustomer(ctx, tx, customer.Customer{ExternalUserID: ext, Name: "客户", Type: 1}, clock.Now())
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		importCSV := func(csv string) {
			t.Helper()
			rep, err := s.Import(ctx, bytes.NewReader([]byte(csv)), int64(len(csv)), orders.ImportOptions{Shop: "测试店"})
			if err != nil || rep.RejectedRows != 0 || rep.Inserted == 0 {
				t.Fatalf("import: %+v, %v", rep, err)
			}
		}
		importCSV(`order_no,external_userid,status,total,refund,ordered_at,paid_at,sku,quantity,price
O1,wmA,completed,300.00,0,2026-11-01 10:00:00,2026-11-01 10:00:00,SKU-1,1,300.00
O2,wmA,completed,100.00,50.00,2026-11-20 10:00:00,2026-11-20 10:00:00,SKU-2,2,50.00
O3,wmB,completed,80.00,0,2026-06-01 10:00:00,2026-06-01 10:00:00,SKU-2,1,80.00
O4,wmC,pending,999.00,0,2026-11-21 10:00:00,,SKU-1,1,999.00
`)
		if err := s.SetCategories(ctx, map[string]string{"SKU-1": "女装", "SKU-2": "鞋"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RefreshRFM(ctx); err != nil {
			t.Fatal(err)
		}
		ix, err := index.Open(ctx, db, shanghai, clock)
		if err != nil {
			t.Fatal(err)
		}
		check := func(expr string, want uint64) {
			t.Helper()
			e := segment.MustParse(expr)
			if err := segment.Check(e, ix); err != nil {
				t.Errorf("%s: %v", expr, err)
				return
			}
			n, err := ix.Count(ctx, e)
			if err != nil || n != want {
				t.Errorf("%s: index counts %d (%v), want %d", expr, n, err, want)
			}
			ref, err := segment.CountSQL(ctx, db.R, db.Dialect, e, segment.SQLOptions{Location: shanghai, Now: clock.Now()})
			if err != nil || ref != want {
				t.Errorf("%s: SQL counts %d (%v), want %d", expr, ref, err, want)
			}
		}
		// wmA: two purchases, ¥350 net → aov 175, ¥50 back; wmB: ¥80;
		// wmC's order is not paid.
		check(`aov >= 100`, 1)
		check(`aov > 0`, 2)
		check(`refunds >= 1 and refunded >= 50`, 1)
		check(`category:鞋`, 2)
		check(`category:女装`, 1)
		check(`sku:SKU-1`, 1)
		check(`first_order:2026-11-01..2026-11-30`, 1)
		check(`first_order < 2026-11-01`, 1)
		check(`rfm:333`, 1) // wmA: the higher of two buyers on R, F and M
		check(`rfm:111 and rfm_r = 1`, 1)
		check(`rfm = 0`, 1)

		importCSV(`order_no,external_userid,status,total,refund,ordered_at,paid_at,sku,quantity,price
O5,wmB,completed,500.00,0,2026-11-25 10:00:00,2026-11-25 10:00:00,SKU-1,1,500.00
`)
		if err := ix.Step(ctx); err != nil {
			t.Fatal(err)
		}
		check(`aov >= 100`, 2) // wmB: (80 + 500) / 2
		check(`category:女装`, 2)
		check(`category:女装 and category:鞋`, 2)
	})
}
