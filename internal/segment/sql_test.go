package segment_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/segment"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// sqlCases: every field and operator, and not, or, and together, with the
// customers they must select, worked out by hand from the fixture.
var sqlCases = []struct {
	expr string
	want string // keys, space-separated
}{
	{`tag:VIP`, "c1 c4 c6"}, // t1 or t4 (same name, two groups), active follows only (not c2, c5)
	{`tag:复购`, "c2 c6"},
	{`tag:普通`, "c4 c7"},
	{`tag:没有`, ""},
	{`group:会员等级`, "c1 c4 c6 c7"},
	{`group:兴趣`, "c2 c4 c6"},
	{`member:zhangsan`, "c1 c4 c6"},
	{`member:lisi`, "c2 c7"},
	{`member:wangwu`, "c4 c8"},
	{`channel:双11直播`, "c1 c4 c8"},
	{`channel:抖音`, "c6"},
	{`reachable:wecom`, "c1 c6"},
	{`reachable:sms`, "c4 c6 c7"},
	{`reachable:email`, ""},
	{`orders >= 3`, "c1 c4 c6"},
	{`orders > 3`, "c1 c6"},
	{`orders = 0`, "c3 c5 c7"},
	{`orders != 0`, "c1 c2 c4 c6 c8"},
	{`orders < 2`, "c2 c3 c5 c7"},
	{`orders <= 2`, "c2 c3 c5 c7 c8"},
	{`spent_90d >= 500`, "c1 c4"},
	{`spent_90d > 500`, "c4"},
	{`spent_90d = 499.99`, "c2"},
	{`spent_30d >= 100`, "c1 c2"},
	{`spent_365d >= 1000`, "c8"},
	{`spent_total < 1`, "c3 c5 c6 c7"},
	{`spent_total != 0`, "c1 c2 c4 c6 c8"},
	{`spent_total <= 0.99`, "c3 c5 c6 c7"},
	{`added:2026-01-01..2026-01-31`, "c1 c2 c6"}, // not c4 (00:00 on 1 Feb), not c7 (23:59:59 on 31 Dec)
	{`added:2026-01-01`, "c1"},
	{`added = 2026-02-01`, "c4"}, // its earliest active follow, not the later one
	{`added >= 2026-01-01`, "c1 c2 c4 c6 c8"},
	{`added < 2026-01-01`, "c7"},
	{`added <= 2025-12-31`, "c7"},
	{`added > 2026-01-31`, "c4 c8"},
	{`added != 2026-01-31`, "c1 c4 c7 c8"}, // not c3, c5: no active follow
	{`last_order >= 2026-02-01`, "c1 c2 c4"},
	{`last_order > 2026-01-31`, "c1 c2 c4"},
	{`last_order < 2026-02-01`, "c5"},
	{`last_order <= 2026-02-01`, "c2 c5"},
	{`last_order = 2025-12-31`, "c5"},
	{`last_order != 2026-02-01`, "c1 c4 c5"},
	{`last_order:2026-01-01..2026-12-31`, "c1 c2 c4"},
	{`not last_order >= 2026-02-01`, "c3 c5 c6 c7 c8"},
	{`not added:2026-01-01..2026-01-31`, "c3 c4 c5 c7 c8"},
	{`not tag:VIP`, "c2 c3 c5 c7 c8"},
	{`not reachable:email`, "c1 c2 c3 c4 c5 c6 c7 c8"},
	{`not not tag:复购`, "c2 c6"},
	{`tag:VIP and reachable:wecom`, "c1 c6"},
	{`tag:VIP or member:lisi`, "c1 c2 c4 c6 c7"},
	{`not (tag:VIP or orders >= 3)`, "c2 c3 c5 c7 c8"},
	{`not tag:VIP and not member:lisi`, "c3 c5 c8"},
	{`reachable:email or not reachable:email`, "c1 c2 c3 c4 c5 c6 c7 c8"},
	{`(reachable:wecom or reachable:sms) and spent_total > 0 and not channel:抖音`, "c1 c4"},
	{example, "c6"},
	// The facts of migration 00017.
	{`sku:SKU-A`, "c1 c2"},
	{`sku:SKU-C`, "c4"},
	{`sku:SKU-E`, ""},
	{`category:女装`, "c1 c2 c8"},
	{`category:鞋`, "c1 c6"},
	{`category:童装`, ""},
	{`aov >= 240`, "c1 c2 c8"},
	{`aov < 0.11`, "c3 c5 c6 c7"},
	{`refunds >= 1`, "c1 c4 c6"},
	{`refunds = 0`, "c2 c3 c5 c7 c8"},
	{`refunded > 50`, "c6"},
	{`refunded >= 50`, "c1 c6"},
	{`rfm:545`, "c1"},
	{`rfm >= 400`, "c1 c4"},
	{`rfm = 0`, "c3 c5 c7"},
	{`rfm_r >= 4`, "c1 c4"},
	{`rfm_f = 5`, "c6"},
	{`rfm_m <= 3`, "c2 c3 c4 c5 c6 c7"},
	{`first_order:2026-01-01..2026-03-31`, "c2 c4"},
	{`first_order >= 2026-02-01`, "c2 c8"},
	{`first_order < 2025-01-01`, "c6"},
	{`first_order = 2026-01-31`, "c4"},
	{`first_order != 2026-01-31`, "c1 c2 c6 c8"},
	{`not first_order >= 2026-01-01`, "c1 c3 c5 c6 c7"},
	{`category:女装 and not sku:SKU-A`, "c8"},
}

func TestSQL(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ids := loadFixture(t, db)
		for _, c := range sqlCases {
			e := segment.MustParse(c.expr)
			got := runSQL(t, db, ids, e)
			if want := strings.Fields(c.want); !slices.Equal(got, want) {
				t.Errorf("%s: got %v, want %v", c.expr, got, want)
			}
			if m := model(e); !slices.Equal(m, got) {
				t.Errorf("%s: the model says %v, SQL %v", c.expr, m, got)
			}
		}
	})
}

// TestSQLRandom compares the SQL with the model on random combinations of
// the terms above.
func TestSQLRandom(t *testing.T) {
	var terms []string
	for _, c := range sqlCases {
		if e := segment.MustParse(c.expr); isTerm(e) {
			terms = append(terms, c.expr)
		}
	}
	rng := rand.New(rand.NewPCG(6, 6))
	var gen func(depth int) string
	gen = func(depth int) string {
		switch n := rng.IntN(10); {
		case depth > 3 || n < 4:
			return terms[rng.IntN(len(terms))]
		case n < 5:
			return "not " + gen(depth+1)
		default:
			parts := make([]string, 2+rng.IntN(3))
			for i := range parts {
				parts[i] = gen(depth + 1)
			}
			return "(" + strings.Join(parts, []string{" and ", " or "}[rng.IntN(2)]) + ")"
		}
	}
	exprs := make([]segment.Expr, 300)
	for i := range exprs {
		exprs[i] = segment.MustParse(gen(0))
	}
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ids := loadFixture(t, db)
		for _, e := range exprs {
			if got, want := runSQL(t, db, ids, e), model(e); !slices.Equal(got, want) {
				t.Errorf("%s: SQL %v, model %v", segment.String(e), got, want)
			}
		}
	})
}

func isTerm(e segment.Expr) bool { _, ok := e.(*segment.Term); return ok }

func runSQL(t *testing.T, db *store.DB, ids map[int64]string, e segment.Expr) []string {
	t.Helper()
	q, args, err := segment.SQL(db.Dialect, e, segment.SQLOptions{Location: shanghai, Now: fxNow})
	if err != nil {
		t.Fatalf("%s: %v", segment.String(e), err)
	}
	rows, err := db.R.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v\n%s", segment.String(e), err, q)
	}
	defer rows.Close()
	got := []string{}
	var last int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		if id <= last {
			t.Fatalf("%s: ids not in ascending order", segment.String(e))
		}
		last = id
		got = append(got, ids[id])
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		return nil
	}
	return got
}

func TestSQLText(t *testing.T) {
	opts := segment.SQLOptions{Location: shanghai, Now: fxNow}
	e := segment.MustParse(`tag:"x'; DROP TABLE customers; --" and added:2026-01-01 and spent_90d >= 500 and member:zhangsan`)
	q, args, err := segment.SQL(store.SQLite, e, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(q, "SELECT c.id FROM customers c WHERE ") || !strings.HasSuffix(q, " ORDER BY c.id") {
		t.Errorf("query shape: %s", q)
	}
	for _, v := range []string{"DROP", "zhangsan", "50000", "2026", "2025"} {
		if strings.Contains(q, v) {
			t.Errorf("the value %s is in the SQL text: %s", v, q)
		}
	}
	want := []any{"x'; DROP TABLE customers; --", time.Date(2025, 12, 31, 16, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 16, 0, 0, 0, time.UTC), int64(50000), "zhangsan"}
	if len(args) != len(want) {
		t.Fatalf("args %v, want %v", args, want)
	}
	for i := range want {
		if tm, ok := want[i].(time.Time); ok {
			if got, ok := args[i].(time.Time); !ok || !got.Equal(tm) || got.Location() != time.UTC {
				t.Errorf("arg %d = %v, want %v in UTC", i+1, args[i], tm)
			}
		} else if args[i] != want[i] {
			t.Errorf("arg %d = %v, want %v", i+1, args[i], want[i])
		}
	}
	pq, pargs, err := segment.SQL(store.Postgres, e, opts)
	if err != nil || pq != q || len(pargs) != len(args) {
		t.Errorf("PostgreSQL query differs: %v\n%s", err, pq)
	}

	for name, bad := range map[string]func() error{
		"nil expression": func() error { _, _, err := segment.SQL(store.SQLite, nil, opts); return err },
		"empty and":      func() error { _, _, err := segment.SQL(store.SQLite, &segment.And{}, opts); return err },
		"no location": func() error {
			_, _, err := segment.SQL(store.SQLite, e, segment.SQLOptions{Now: fxNow})
			return err
		},
		"no now": func() error {
			_, _, err := segment.SQL(store.SQLite, e, segment.SQLOptions{Location: shanghai})
			return err
		},
		"dialect": func() error { _, _, err := segment.SQL("mysql", e, opts); return err },
	} {
		if bad() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
