package segment_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/segment"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := segment.Parse(example); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkString(b *testing.B) {
	e := segment.MustParse(example)
	b.ReportAllocs()
	for b.Loop() {
		segment.String(e)
	}
}

// benchCustomers is how many customers BenchmarkSQL loads.
const benchCustomers = 100_000

// BenchmarkSQL runs the reference SQL of a few expressions over
// 100,000 customers (1.5 follows and 2 tags each on average), on SQLite and,
// when KITH_TEST_DATABASE_URL is set, on PostgreSQL.
func BenchmarkSQL(b *testing.B) {
	exprs := []string{
		`tag:t3`,
		`orders >= 3 and spent_90d >= 500`,
		`added:2026-01-01..2026-01-31`,
		`tag:t1 and (tag:t2 or spent_90d >= 500) and not channel:ch1 and member:m7`,
		`not reachable:wecom`,
	}
	dbs := map[string]func(testing.TB) *store.DB{"sqlite": storetest.MustSQLite}
	if os.Getenv(storetest.EnvURL) != "" {
		dbs["postgres"] = storetest.MustPostgres
	}
	for name, open := range dbs {
		db := open(b)
		loadBench(b, db)
		// The baseline: reading every customer id, the cost of the rows
		// alone on this machine at this moment.
		queries := [][]any{{"baseline: every id", "SELECT id FROM customers ORDER BY id", []any(nil)}}
		for _, src := range exprs {
			q, args, err := segment.SQL(db.Dialect, segment.MustParse(src), segment.SQLOptions{Location: shanghai, Now: fxNow})
			if err != nil {
				b.Fatal(err)
			}
			queries = append(queries, []any{src, q, args})
		}
		for _, x := range queries {
			q, args := x[1].(string), x[2].([]any)
			b.Run(name+"/"+x[0].(string), func(b *testing.B) {
				n := 0
				for b.Loop() {
					rows, err := db.R.QueryContext(context.Background(), q, args...)
					if err != nil {
						b.Fatal(err)
					}
					n = 0
					for rows.Next() {
						n++
					}
					rows.Close()
				}
				b.ReportMetric(float64(n), "customers")
			})
		}
	}
}

// loadBench writes benchCustomers synthetic customers in batches.
func loadBench(tb testing.TB, db *store.DB) {
	tb.Helper()
	for i := range 4 {
		storetest.MustExec(tb, db, "INSERT INTO tag_groups (group_id, name, created_at, updated_at) VALUES ($1, $1, $2, $2)", fmt.Sprint("g", i), fxNow)
	}
	for i := range 20 {
		storetest.MustExec(tb, db, "INSERT INTO tags (tag_id, group_id, name, created_at, updated_at) VALUES ($1, $2, $1, $3, $3)",
			fmt.Sprint("t", i), fmt.Sprint("g", i/5), fxNow)
	}
	const batch = 500
	for start := 1; start <= benchCustomers; start += batch {
		var cust, fol, tag []string
		var cargs, fargs, targs []any
		for i := start; i < start+batch; i++ {
			var last any
			if i%3 != 0 {
				last = fxNow.Add(-time.Duration(i%400) * 24 * time.Hour)
			}
			cargs = append(cargs, fmt.Sprint("wm", i), i%7, int64(i%1000)*100, int64(i%2000)*100, last, fxNow, fxNow)
			cust = append(cust, placeholders(len(cargs)-6, 7))
			for j := 0; j < 1+i%2; j++ {
				member := fmt.Sprint("m", (i+j)%50)
				status := "active"
				if (i+j)%11 == 0 {
					status = "deleted_by_customer"
				}
				fargs = append(fargs, i, member, fmt.Sprint("ch", i%20), time.Date(2026, 1, 1+(i*7+j)%300, 0, 0, 0, 0, shanghai), status, fxNow)
				fol = append(fol, placeholders(len(fargs)-5, 6))
				targs = append(targs, i, member, fmt.Sprint("t", (i+j)%20), i, member, fmt.Sprint("t", (i*3+j)%20))
				tag = append(tag, placeholders(len(targs)-5, 3), placeholders(len(targs)-2, 3))
			}
		}
		mustExec(tb, db, "INSERT INTO customers (external_userid, order_count, spent_90d_fen, spent_total_fen, last_order_at, created_at, updated_at) VALUES "+
			strings.Join(cust, ", "), cargs)
		mustExec(tb, db, "INSERT INTO follows (customer_id, member_userid, state, added_at, status, updated_at) VALUES "+strings.Join(fol, ", "), fargs)
		mustExec(tb, db, "INSERT INTO follow_tags (customer_id, member_userid, tag_id) VALUES "+strings.Join(tag, ", ")+" ON CONFLICT DO NOTHING", targs)
	}
	// A quarter of the customers granted marketing on WeCom.
	for start := 1; start <= benchCustomers; start += 4 * batch {
		var rows []string
		var args []any
		for i := start; i < start+4*batch; i += 4 {
			args = append(args, fmt.Sprint("wm", i), i, fxNow)
			rows = append(rows, fmt.Sprintf("('external_userid', $%d, 'marketing', 'wecom', 'grant', $%d, $%d, $%[3]d, $%[3]d, 'customer', $%[2]d)", len(args)-2, len(args)-1, len(args)))
		}
		mustExec(tb, db, `INSERT INTO consent_state (person_kind, person_key, purpose, channel, action, event_id, updated_at,
			occurred_at, received_at, source, seq) VALUES `+strings.Join(rows, ", "), args)
	}
	storetest.MustExec(tb, db, "ANALYZE")
}

func placeholders(first, n int) string {
	p := make([]string, n)
	for i := range p {
		p[i] = fmt.Sprint("$", first+i)
	}
	return "(" + strings.Join(p, ", ") + ")"
}

func mustExec(tb testing.TB, db *store.DB, q string, args []any) {
	tb.Helper()
	if _, err := db.W.ExecContext(context.Background(), q, args...); err != nil {
		tb.Fatalf("%v", err)
	}
}
