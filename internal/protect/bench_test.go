package protect_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// BenchmarkRotate re-seals 20 000 protected values under a new key, 500 a
// batch, and reports values a second. Each iteration rotates back and forth
// between two keys, so every value is re-sealed every time.
func BenchmarkRotate(b *testing.B) {
	run := func(b *testing.B, db *store.DB) {
		const n = 20000
		ctx := context.Background()
		p1, p2 := protector(b, 1, 2), protector(b, 2, 1)
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			for i := 0; i < n; i++ {
				s, err := p1.Seal(protect.FieldEmail, fmt.Sprintf("user%d@example.com", i))
				if err != nil {
					return err
				}
				if err := protect.PutValues(ctx, tx, protect.Owner{Kind: "customer", ID: fmt.Sprint(i)}, protect.FieldEmail, []protect.Sealed{s}, now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			p := p2
			if i%2 == 1 {
				p = p1
			}
			rep, err := protect.Rotate(ctx, db, p.Sealer(), protect.DefaultBatch, nil)
			if err != nil || rep.Resealed != n {
				b.Fatalf("%+v %v", rep, err)
			}
		}
		b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "values/s")
	}
	// The baseline of the same run: re-sealing the same values in memory,
	// which tells the database's share from the cryptography's.
	b.Run("memory", func(b *testing.B) {
		p1, p2 := protector(b, 1, 2), protector(b, 2, 1)
		vals := make([]string, 20000)
		for i := range vals {
			s, _ := p1.Seal(protect.FieldEmail, fmt.Sprintf("user%d@example.com", i))
			vals[i] = s.Value
		}
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			p := p2
			if i%2 == 1 {
				p = p1
			}
			for j, v := range vals {
				r, _, err := p.Sealer().Reseal(v, "protect:email")
				if err != nil {
					b.Fatal(err)
				}
				vals[j] = r
			}
		}
		b.ReportMetric(float64(len(vals)*b.N)/time.Since(start).Seconds(), "values/s")
	})
	b.Run("sqlite", func(b *testing.B) { run(b, storetest.MustSQLite(b)) })
	if os.Getenv(storetest.EnvURL) != "" {
		b.Run("postgres", func(b *testing.B) { run(b, storetest.MustPostgres(b)) })
	}
}
