package index

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/segment"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// The index must answer exactly what the reference SQL (segment.SQL)
// answers: on random data, for random expressions over every field and
// operator, on both dialects, after a build and again after random changes
// read from the change sequence.

var (
	eqGroups   = []string{"等级", "兴趣", "来源", "等级"} // two groups share a name
	eqTags     = []string{"VIP", "普通", "VIP", "跑步", "读书", "新客", "老客", "直播", "跑步", "沉睡"}
	eqMembers  = []string{"m0", "m1", "m2", "m3", "m4", "m5"} // m5 has no follows; "mx" only follows
	eqStates   = []string{"", "s1", "s2", "s3", "双11直播"}
	eqAmounts  = []int64{0, 1, 99, 100, 2550, 99999, -300, 1 << 33}
	eqBaseDay  = day(2026, 2, 20)
	eqFollower = append(slices.Clone(eqMembers[:5]), "mx")
	// SKU codes and their categories: k4 is in no category, k5 in the
	// catalogue only until a change, k6 bought but never catalogued.
	eqSKUs       = []string{"k0", "k1", "k2", "k3", "k4", "k5", "k6"}
	eqCategories = []string{"女装", "鞋", "女装", "童装", "", "包"}
)

// eqInstant is a random instant within a few days of eqBaseDay, often close
// to a Shanghai midnight.
func eqInstant(r *rand.Rand) time.Time {
	d := segment.DayStart(eqBaseDay+int32(r.IntN(7))-1, shanghai)
	switch r.IntN(3) {
	case 0:
		return d.Add(time.Duration(r.IntN(120)-60) * time.Minute)
	default:
		return d.Add(time.Duration(r.Int64N(int64(24 * time.Hour))))
	}
}

type eqWorld struct {
	t     *testing.T
	db    *store.DB
	r     *rand.Rand
	next  int64 // next customer id
	clock *fixedClock
}

func (w *eqWorld) seed() {
	for g, name := range eqGroups {
		for i := g; i < len(eqTags); i += len(eqGroups) {
			addCorpTag(w.t, w.db, fmt.Sprintf("g%d", g), name, fmt.Sprintf("t%d", i), eqTags[i])
		}
	}
	for _, m := range eqMembers {
		storetest.MustExec(w.t, w.db, `INSERT INTO members (userid, name, updated_at) VALUES ($1, $1, $2)`, m, testNow)
	}
	for i, c := range eqCategories {
		if c != "" {
			storetest.MustExec(w.t, w.db, `INSERT INTO sku_categories (sku, category, updated_at) VALUES ($1, $2, $3)`, eqSKUs[i], c, testNow)
		}
	}
	for range 120 {
		w.addCustomer()
	}
}

func (w *eqWorld) addCustomer() {
	r, id := w.r, w.next
	w.next++
	addCustomer(w.t, w.db, id, fmt.Sprintf("wm%d", id))
	if r.IntN(3) > 0 {
		var last *time.Time
		if r.IntN(2) == 0 {
			t := eqInstant(r)
			last = &t
		}
		setFacts(w.t, w.db, id, int64(r.IntN(4)), [4]int64{eqAmounts[r.IntN(len(eqAmounts))], eqAmounts[r.IntN(len(eqAmounts))], eqAmounts[r.IntN(len(eqAmounts))], eqAmounts[r.IntN(len(eqAmounts))]}, last)
	}
	if r.IntN(3) > 0 {
		w.setOrderFacts(id)
	}
	for _, k := range r.Perm(len(eqSKUs) - 1)[:r.IntN(4)] { // k5: nobody at first
		if k == 5 {
			k = 6
		}
		w.buy(id, eqSKUs[k])
	}
	members := slices.Clone(eqFollower)
	r.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
	for _, m := range members[:r.IntN(4)] {
		status := []string{"active", "active", "active", "deleted_by_member", "deleted_by_customer"}[r.IntN(5)]
		addFollow(w.t, w.db, id, m, eqStates[r.IntN(len(eqStates))], status, eqInstant(r))
		for _, tg := range r.Perm(len(eqTags) + 1)[:r.IntN(4)] {
			addTag(w.t, w.db, id, m, fmt.Sprintf("t%d", tg)) // t10 is a tag no corp tag names
		}
		if r.IntN(3) == 0 {
			addPhone(w.t, w.db, id, m, fmt.Sprintf("p%d", r.IntN(40)))
		}
	}
	if r.IntN(3) > 0 {
		w.consent("external_userid", fmt.Sprintf("wm%d", id), "", "wecom")
	}
	if r.IntN(4) == 0 {
		w.consent("external_userid", fmt.Sprintf("wm%d", id), "", "sms") // a channel no identity of its kind reaches
	}
	if r.IntN(3) == 0 {
		idx := fmt.Sprintf("p%d", r.IntN(40))
		w.consent("phone", "enc-"+idx+fmt.Sprint(id), idx, "sms")
	}
}

func (w *eqWorld) consent(kind, key, index, channel string) {
	r := w.r
	var until *time.Time
	if r.IntN(3) == 0 {
		t := w.clock.t.Add(time.Duration(r.IntN(240)-60) * time.Minute)
		until = &t
	}
	action := []string{"grant", "grant", "grant", "withdraw", "refuse"}[r.IntN(5)]
	purpose := "marketing"
	if r.IntN(8) == 0 {
		purpose = "service"
	}
	storetest.MustExec(w.t, w.db, `INSERT INTO consent_state (person_kind, person_key, purpose, channel, action, valid_until, event_id, suppressed, person_index, updated_at,
    occurred_at, received_at, source, seq)
VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9, $9, $9, 'customer', 1) ON CONFLICT DO NOTHING`, kind, key, purpose, channel, action, until, r.IntN(6) == 0, index, testNow)
}

// setOrderFacts sets random facts of 00017 on a customer.
func (w *eqWorld) setOrderFacts(id int64) {
	r := w.r
	var first *time.Time
	if r.IntN(3) > 0 {
		t := eqInstant(r)
		first = &t
	}
	rfm := [3]int{r.IntN(6), r.IntN(6), r.IntN(6)}
	storetest.MustExec(w.t, w.db, `UPDATE customers SET avg_order_fen = $1, refund_count = $2, refund_fen = $3, rfm_r = $4, rfm_f = $5, rfm_m = $6,
    rfm_score = $7, first_order_at = $8 WHERE id = $9`,
		eqAmounts[r.IntN(len(eqAmounts))], r.IntN(4), eqAmounts[r.IntN(len(eqAmounts))], rfm[0], rfm[1], rfm[2],
		100*rfm[0]+10*rfm[1]+rfm[2], first, id)
}

// buy records that a customer bought a SKU, with its category as the
// catalogue has it.
func (w *eqWorld) buy(id int64, sku string) {
	storetest.MustExec(w.t, w.db, `INSERT INTO customer_skus (customer_id, sku, category, orders, quantity, spent_fen, first_at, last_at)
SELECT id, $1, COALESCE((SELECT category FROM sku_categories WHERE sku = $1), ''), 1, 1, 100, $2, $2 FROM customers WHERE id = $3
ON CONFLICT DO NOTHING`, sku, testNow, id)
}

// change makes one random write.
func (w *eqWorld) change() {
	r, db, t := w.r, w.db, w.t
	id := 1 + r.Int64N(w.next-1)
	member := eqFollower[r.IntN(len(eqFollower))]
	switch r.IntN(16) {
	case 0:
		w.addCustomer()
	case 1:
		storetest.MustExec(t, db, `DELETE FROM customers WHERE id = $1`, id)
	case 2:
		storetest.MustExec(t, db, `UPDATE follows SET status = $1 WHERE customer_id = $2`, []string{"active", "deleted_by_member"}[r.IntN(2)], id)
	case 3:
		storetest.MustExec(t, db, `DELETE FROM follow_tags WHERE customer_id = $1 AND tag_id = $2`, id, fmt.Sprintf("t%d", r.IntN(len(eqTags))))
	case 4:
		storetest.MustExec(t, db, `INSERT INTO follow_tags (customer_id, member_userid, tag_id) SELECT customer_id, member_userid, $1 FROM follows WHERE customer_id = $2 ON CONFLICT DO NOTHING`,
			fmt.Sprintf("t%d", r.IntN(len(eqTags))), id)
	case 5:
		at := eqInstant(r)
		setFacts(t, db, id, int64(r.IntN(5)), [4]int64{eqAmounts[r.IntN(len(eqAmounts))], 5, 50, eqAmounts[r.IntN(len(eqAmounts))]}, &at)
	case 6:
		storetest.MustExec(t, db, `UPDATE consent_state SET action = $1, suppressed = $2 WHERE person_key = $3`, []string{"grant", "withdraw"}[r.IntN(2)], r.IntN(4) == 0, fmt.Sprintf("wm%d", id))
	case 7:
		storetest.MustExec(t, db, `UPDATE follows SET state = $1, added_at = $2 WHERE customer_id = $3 AND member_userid = $4`, eqStates[r.IntN(len(eqStates))], eqInstant(r), id, member)
	case 8:
		storetest.MustExec(t, db, `INSERT INTO customer_phones (customer_id, member_userid, phone_sealed, phone_index, key_id)
SELECT customer_id, member_userid, 's', $1, 'k' FROM follows WHERE customer_id = $2 ON CONFLICT DO NOTHING`, fmt.Sprintf("p%d", r.IntN(40)), id)
	case 9:
		storetest.MustExec(t, db, `DELETE FROM consent_state WHERE person_index = $1`, fmt.Sprintf("p%d", r.IntN(40)))
	case 10:
		storetest.MustExec(t, db, `UPDATE tags SET name = $1, group_id = $2 WHERE tag_id = $3`, eqTags[r.IntN(len(eqTags))], fmt.Sprintf("g%d", r.IntN(len(eqGroups))), fmt.Sprintf("t%d", r.IntN(len(eqTags))))
	case 11:
		storetest.MustExec(t, db, `UPDATE tag_groups SET name = $1 WHERE group_id = $2`, eqGroups[r.IntN(len(eqGroups))], fmt.Sprintf("g%d", r.IntN(len(eqGroups))))
	case 12:
		w.setOrderFacts(id)
	case 13:
		w.buy(id, eqSKUs[r.IntN(len(eqSKUs))])
	case 14:
		storetest.MustExec(t, db, `DELETE FROM customer_skus WHERE customer_id = $1 AND sku = $2`, id, eqSKUs[r.IntN(len(eqSKUs))])
	case 15:
		// The catalogue moves a SKU to another category, or out of it, and
		// what customers bought follows (as orders.SetCategories does).
		sku, cat := eqSKUs[r.IntN(len(eqSKUs))], eqCategories[r.IntN(len(eqCategories))]
		if cat == "" {
			storetest.MustExec(t, db, `DELETE FROM sku_categories WHERE sku = $1`, sku)
		} else {
			storetest.MustExec(t, db, `INSERT INTO sku_categories (sku, category, updated_at) VALUES ($1, $2, $3)
ON CONFLICT (sku) DO UPDATE SET category = excluded.category`, sku, cat, testNow)
		}
		storetest.MustExec(t, db, `UPDATE customer_skus SET category = $1 WHERE sku = $2 AND category <> $1`, cat, sku)
	}
}

var eqFields = []segment.Field{segment.FieldTag, segment.FieldTagGroup, segment.FieldMember, segment.FieldChannel, segment.FieldReachable,
	segment.FieldOrders, segment.FieldSpent30d, segment.FieldSpent90d, segment.FieldSpent365d, segment.FieldSpentTotal,
	segment.FieldAdded, segment.FieldLastOrder,
	segment.FieldSKU, segment.FieldCategory, segment.FieldAOV, segment.FieldRefunds, segment.FieldRefunded,
	segment.FieldRFM, segment.FieldRFMR, segment.FieldRFMF, segment.FieldRFMM, segment.FieldFirstOrder}

var eqOps = []segment.Op{segment.OpEq, segment.OpNe, segment.OpLt, segment.OpLe, segment.OpGt, segment.OpGe}

// randomExpr returns a random expression at most depth levels deep.
func randomExpr(r *rand.Rand, depth int) segment.Expr {
	if depth <= 1 || r.IntN(5) < 2 {
		return randomTerm(r)
	}
	switch r.IntN(5) {
	case 0:
		return &segment.Not{X: randomExpr(r, depth-1)}
	case 1, 2:
		return &segment.And{Terms: randomList(r, depth-1)}
	}
	return &segment.Or{Terms: randomList(r, depth-1)}
}

func randomList(r *rand.Rand, depth int) []segment.Expr {
	out := make([]segment.Expr, 2+r.IntN(3))
	for i := range out {
		out[i] = randomExpr(r, depth)
	}
	return out
}

func randomTerm(r *rand.Rand) *segment.Term {
	f := eqFields[r.IntN(len(eqFields))]
	t := &segment.Term{Field: f, Op: segment.OpIs}
	pick := func(names []string) string {
		if r.IntN(10) == 0 {
			return "没有"
		}
		return names[r.IntN(len(names))]
	}
	switch f {
	case segment.FieldTag:
		t.Name = pick(eqTags)
	case segment.FieldTagGroup:
		t.Name = pick(eqGroups)
	case segment.FieldMember:
		t.Name = pick(eqFollower)
	case segment.FieldChannel:
		t.Name = pick(eqStates[1:])
	case segment.FieldReachable:
		t.Name = []string{"wecom", "sms", "email"}[r.IntN(3)]
	case segment.FieldSKU:
		t.Name = pick(eqSKUs)
	case segment.FieldCategory:
		t.Name = pick(eqCategories[:4])
	case segment.FieldRefunds, segment.FieldRFMR, segment.FieldRFMF, segment.FieldRFMM:
		t.Op, t.Num = eqOps[r.IntN(len(eqOps))], int64(r.IntN(7))
	case segment.FieldRFM:
		t.Op, t.Num = eqOps[r.IntN(len(eqOps))], int64(100*r.IntN(6)+10*r.IntN(6)+r.IntN(6))
	case segment.FieldAdded, segment.FieldLastOrder, segment.FieldFirstOrder:
		d := eqBaseDay + int32(r.IntN(9)) - 2
		if r.IntN(3) == 0 {
			t.From, t.To = d, d+int32(r.IntN(3))
		} else {
			t.Op, t.Day = eqOps[r.IntN(len(eqOps))], d
		}
	case segment.FieldOrders:
		t.Op, t.Num = eqOps[r.IntN(len(eqOps))], int64(r.IntN(6))
	default:
		t.Op, t.Num = eqOps[r.IntN(len(eqOps))], eqAmounts[r.IntN(len(eqAmounts))]+int64(r.IntN(3)-1)
	}
	return t
}

// reference runs segment.SQL.
func reference(t testing.TB, db *store.DB, e segment.Expr, now time.Time) []uint32 {
	t.Helper()
	q, args, err := segment.SQL(db.Dialect, e, segment.SQLOptions{Location: shanghai, Now: now})
	if err != nil {
		t.Fatalf("SQL %s: %v", segment.String(e), err)
	}
	rows, err := db.R.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("run SQL of %s: %v", segment.String(e), err)
	}
	defer rows.Close()
	var out []uint32
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, uint32(id))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// compareRandom checks n random expressions; it stops at the first
// difference, printing the expression.
func compareRandom(t *testing.T, w *eqWorld, ix *Index, n int) {
	t.Helper()
	nonEmpty, partial := 0, 0
	defer func() {
		// The generator must make expressions that select something, and
		// not just everything, or the comparison proves little.
		if nonEmpty < n/3 || partial < n/4 {
			t.Errorf("only %d of %d expressions matched anyone, %d some but not all", nonEmpty, n, partial)
		}
	}()
	for range n {
		e := randomExpr(w.r, 5)
		if err := segment.Validate(e); err != nil {
			t.Fatalf("generated an invalid expression %s: %v", segment.String(e), err)
		}
		want := reference(t, w.db, e, w.clock.t)
		got := ids(t, ix, e)
		if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("%s\nindex %v\nSQL   %v", segment.String(e), got, want)
		}
		if len(want) > 0 {
			nonEmpty++
			if uint64(len(want)) < ix.Stats().Customers {
				partial++
			}
		}
	}
}

func TestIndexEqualsReferenceSQL(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := &eqWorld{t: t, db: db, r: rand.New(rand.NewPCG(6, 2026)), next: 1, clock: &fixedClock{testNow}}
		w.seed()
		ix := mustOpen(t, db, w.clock)
		compareRandom(t, w, ix, 400)
		// Comparisons through the fine buckets even for a few customers.
		defer func(n uint64) { fewToCheck = n }(fewToCheck)
		fewToCheck = 0
		compareRandom(t, w, ix, 200)
		// A build that reads the large tables in two halves (on SQLite)
		// agrees too.
		defer func(old int64) { splitAbove = old }(splitAbove)
		splitAbove = 0
		compareRandom(t, w, mustOpen(t, db, w.clock), 100)
		for round := range 3 {
			for range 40 {
				w.change()
			}
			if round == 2 {
				w.clock.t = w.clock.t.Add(90 * time.Minute) // some grants end
			}
			mustStep(t, ix)
			compareRandom(t, w, ix, 200)
		}
		// And a fresh build agrees with the tailed one.
		fresh := mustOpen(t, db, w.clock)
		for range 100 {
			e := randomExpr(w.r, 5)
			if a, b := ids(t, ix, e), ids(t, fresh, e); !slices.Equal(a, b) {
				t.Fatalf("%s: tailed %v, built %v", segment.String(e), a, b)
			}
		}
	})
}
