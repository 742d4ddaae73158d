package orders_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/orders"
	"github.com/kith-scrm/kith/internal/orders/orderstest"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// BenchmarkImport imports a Taobao export of 20000 orders into a fresh
// SQLite database per iteration; the parsing alone is the baseline.
func BenchmarkImport(b *testing.B) {
	var file bytes.Buffer
	orderstest.WriteTaobaoCSV(&file, 20000, 1, now)
	b.Run("read-only", func(b *testing.B) {
		for b.Loop() {
			if _, err := orders.ReadOrders(context.Background(), bytes.NewReader(file.Bytes()), int64(file.Len()), orders.ImportOptions{},
				func(*orders.Order) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/20000, "ns/row")
	})
	b.Run("sqlite", func(b *testing.B) {
		var total time.Duration
		for b.Loop() {
			b.StopTimer()
			db := storetest.MustSQLite(b)
			s := orders.NewStore(db, mustProtector(b), kith.NewFixedClock(now))
			b.StartTimer()
			start := time.Now()
			rep, err := s.Import(context.Background(), bytes.NewReader(file.Bytes()), int64(file.Len()), orders.ImportOptions{})
			total += time.Since(start)
			if err != nil || rep.Inserted != 20000 {
				b.Fatal(rep, err)
			}
		}
		b.ReportMetric(float64(total.Nanoseconds())/float64(b.N)/20000, "ns/row")
	})
}
