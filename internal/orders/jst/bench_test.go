package jst_test

import (
	"bytes"
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/orders"
	"github.com/kith-scrm/kith/internal/orders/jst"
	"github.com/kith-scrm/kith/internal/orders/jst/jsttest"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPull pulls 5000 sandbox orders (50 calls of 100) into a fresh
// SQLite database per iteration, as the first pull of a connector does;
// the baseline reads the same pages without writing them. It reports the
// time and CPU time per order and the ratio of the two.
func BenchmarkPull(b *testing.B) {
	const n = 5000
	now := time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)
	sb := jsttest.Start(b)
	sb.Now = func() time.Time { return now }
	sb.Seed(9, n, now)
	p, _ := protect.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
	client := &jst.Client{BaseURL: sb.URL, AppKey: jsttest.AppKey, AppSecret: jsttest.AppSecret, AccessToken: jsttest.AccessToken, Now: sb.Now}
	var readWall, readCPU time.Duration
	b.Run("read-only", func(b *testing.B) {
		for b.Loop() {
			w0, c0 := time.Now(), cpuTime()
			got := 0
			for from := now.Add(-90 * 24 * time.Hour); from.Before(now); from = from.Add(jst.MaxSpan) {
				to := from.Add(jst.MaxSpan)
				if to.After(now) {
					to = now
				}
				for page := 1; ; page++ {
					pg, err := client.QueryOrders(context.Background(), jst.Query{ModifiedBegin: from, ModifiedEnd: to, PageIndex: page, PageSize: jst.MaxPageSize})
					if err != nil {
						b.Fatal(err)
					}
					got += len(pg.Orders)
					if !pg.HasNext {
						break
					}
				}
			}
			readWall, readCPU = readWall+time.Since(w0), readCPU+cpuTime()-c0
			if got < n*9/10 {
				b.Fatalf("read %d orders", got)
			}
		}
		readWall, readCPU = readWall/time.Duration(b.N), readCPU/time.Duration(b.N)
		b.ReportMetric(float64(readWall.Microseconds())/n, "µs/order")
		b.ReportMetric(float64(readCPU.Microseconds())/n, "cpu-µs/order")
	})
	b.Run("sqlite", func(b *testing.B) {
		var wall, cpu time.Duration
		for b.Loop() {
			b.StopTimer()
			db := storetest.MustSQLite(b)
			c := &jst.Connector{Name: "bench", Client: client, Store: orders.NewStore(db, p, kith.NewFixedClock(now))}
			b.StartTimer()
			w0, c0 := time.Now(), cpuTime()
			res, err := c.Pull(context.Background(), now)
			wall, cpu = wall+time.Since(w0), cpu+cpuTime()-c0
			if err != nil || res.Orders < n*9/10 {
				b.Fatal(res, err)
			}
		}
		wall, cpu = wall/time.Duration(b.N), cpu/time.Duration(b.N)
		b.ReportMetric(float64(wall.Microseconds())/n, "µs/order")
		b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-µs/order")
		if readCPU > 0 {
			b.ReportMetric(float64(cpu)/float64(readCPU), "cpu-x-read-only")
		}
	})
}
