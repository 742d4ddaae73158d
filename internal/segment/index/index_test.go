package index

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/segment"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// Expression builders.
func set(f segment.Field, name string) *segment.Term {
	return &segment.Term{Field: f, Op: segment.OpIs, Name: name}
}
func num(f segment.Field, op segment.Op, n int64) *segment.Term {
	return &segment.Term{Field: f, Op: op, Num: n}
}
func date(f segment.Field, op segment.Op, d int32) *segment.Term {
	return &segment.Term{Field: f, Op: op, Day: d}
}
func dateRange(f segment.Field, from, to int32) *segment.Term {
	return &segment.Term{Field: f, Op: segment.OpIs, From: from, To: to}
}
func and(es ...segment.Expr) segment.Expr { return &segment.And{Terms: es} }
func or(es ...segment.Expr) segment.Expr  { return &segment.Or{Terms: es} }
func not(e segment.Expr) segment.Expr     { return &segment.Not{X: e} }

// seedFixture writes six customers whose memberships the tests know.
func seedFixture(t *testing.T, db *store.DB) {
	addCorpTag(t, db, "g1", "客户等级", "t1", "VIP")
	addCorpTag(t, db, "g1", "客户等级", "t2", "普通")
	addCorpTag(t, db, "g2", "兴趣", "t3", "VIP")
	addCorpTag(t, db, "g2", "兴趣", "t4", "跑步")
	storetest.MustExec(t, db, `INSERT INTO members (userid, name, updated_at) VALUES ('m1', 'Li', $1), ('m2', 'Wang', $1), ('m3', 'Zhao', $1)`, testNow)
	for id := int64(1); id <= 6; id++ {
		addCustomer(t, db, id, fmt.Sprintf("wm%d", id))
	}
	feb1 := sh(2026, 2, 1, 20, 0)
	setFacts(t, db, 1, 3, [4]int64{100, 200, 300, 12345}, &feb1)
	setFacts(t, db, 4, 0, [4]int64{0, 0, 0, -500}, nil)
	addFollow(t, db, 1, "m1", "live", "active", sh(2026, 1, 5, 10, 0))
	addTag(t, db, 1, "m1", "t1")
	addTag(t, db, 1, "m1", "t4")
	addFollow(t, db, 2, "m1", "live", "deleted_by_member", sh(2025, 6, 1, 9, 0))
	addTag(t, db, 2, "m1", "t2")
	addFollow(t, db, 2, "m2", "", "active", sh(2026, 1, 10, 9, 0))
	addTag(t, db, 2, "m2", "t3")
	addFollow(t, db, 4, "m2", "ad", "active", sh(2025, 12, 31, 23, 30))
	addTag(t, db, 4, "m2", "t2")
	addFollow(t, db, 5, "m1", "", "active", sh(2026, 1, 1, 0, 10))
	addPhone(t, db, 5, "m1", "h5")
	past, future := testNow.Add(-time.Hour), testNow.Add(time.Hour)
	setConsent(t, db, "external_userid", "wm1", "", "wecom", "grant", nil, false)
	setConsent(t, db, "external_userid", "wm2", "", "wecom", "grant", &past, false)
	setConsent(t, db, "external_userid", "wm3", "", "wecom", "grant", &future, false)
	setConsent(t, db, "external_userid", "wm4", "", "wecom", "withdraw", nil, false)
	setConsent(t, db, "phone", "enc5", "h5", "sms", "grant", nil, false)
	setConsent(t, db, "external_userid", "wm6", "", "wecom", "grant", nil, true)
}

type fixtureCase struct {
	e    segment.Expr
	want []uint32
}

func fixtureCases() []fixtureCase {
	return []fixtureCase{
		{set(segment.FieldTag, "VIP"), []uint32{1, 2}},
		{set(segment.FieldTag, "跑步"), []uint32{1}},
		{set(segment.FieldTag, "nope"), nil},
		{set(segment.FieldTagGroup, "客户等级"), []uint32{1, 4}},
		{set(segment.FieldTagGroup, "兴趣"), []uint32{1, 2}},
		{set(segment.FieldMember, "m1"), []uint32{1, 5}},
		{set(segment.FieldMember, "m3"), nil},
		{set(segment.FieldChannel, "live"), []uint32{1}},
		{set(segment.FieldChannel, ""), []uint32{2, 5}},
		{set(segment.FieldReachable, "wecom"), []uint32{1, 3}},
		{set(segment.FieldReachable, "sms"), []uint32{5}},
		{set(segment.FieldReachable, "email"), nil},
		{num(segment.FieldOrders, segment.OpGt, 0), []uint32{1}},
		{num(segment.FieldOrders, segment.OpLe, 0), []uint32{2, 3, 4, 5, 6}},
		{num(segment.FieldSpentTotal, segment.OpLt, 0), []uint32{4}},
		{num(segment.FieldSpentTotal, segment.OpGe, -500), []uint32{1, 2, 3, 4, 5, 6}},
		{num(segment.FieldSpentTotal, segment.OpGt, -500), []uint32{1, 2, 3, 5, 6}},
		{num(segment.FieldSpentTotal, segment.OpEq, -500), []uint32{4}},
		{num(segment.FieldSpentTotal, segment.OpNe, 0), []uint32{1, 4}},
		{num(segment.FieldSpent30d, segment.OpEq, 100), []uint32{1}},
		{num(segment.FieldSpent365d, segment.OpGe, 1<<40), nil},
		{num(segment.FieldSpent365d, segment.OpLt, 1<<40), []uint32{1, 2, 3, 4, 5, 6}},
		{dateRange(segment.FieldAdded, day(2026, 1, 1), day(2026, 1, 5)), []uint32{1, 5}},
		{date(segment.FieldAdded, segment.OpLt, day(2026, 1, 1)), []uint32{4}},
		{date(segment.FieldAdded, segment.OpNe, day(2026, 1, 1)), []uint32{1, 2, 4}},
		{date(segment.FieldLastOrder, segment.OpEq, day(2026, 2, 1)), []uint32{1}},
		{date(segment.FieldLastOrder, segment.OpNe, day(2026, 2, 1)), nil},
		{not(date(segment.FieldLastOrder, segment.OpNe, day(2026, 2, 1))), []uint32{1, 2, 3, 4, 5, 6}},
		{not(set(segment.FieldTag, "VIP")), []uint32{3, 4, 5, 6}},
		{and(set(segment.FieldTag, "VIP"), not(set(segment.FieldMember, "m1"))), []uint32{2}},
		{or(set(segment.FieldReachable, "sms"), and(num(segment.FieldOrders, segment.OpGe, 1), set(segment.FieldChannel, "live"))), []uint32{1, 5}},
		{and(not(set(segment.FieldTag, "VIP")), num(segment.FieldSpentTotal, segment.OpLe, 0), date(segment.FieldAdded, segment.OpGe, day(2025, 1, 1))), []uint32{4, 5}},
	}
}

func describe(e segment.Expr) string {
	switch x := e.(type) {
	case *segment.And:
		return "and" + describeList(x.Terms)
	case *segment.Or:
		return "or" + describeList(x.Terms)
	case *segment.Not:
		return "not(" + describe(x.X) + ")"
	case *segment.Term:
		return fmt.Sprintf("%s%s%q/%d/%d/%d..%d", x.Field, x.Op, x.Name, x.Num, x.Day, x.From, x.To)
	}
	return "?"
}

func describeList(es []segment.Expr) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = describe(e)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func ids(t testing.TB, ix *Index, e segment.Expr) []uint32 {
	t.Helper()
	bm, err := ix.Eval(context.Background(), e)
	if err != nil {
		t.Fatalf("Eval %s: %v", describe(e), err)
	}
	return bm.ToArray()
}

func TestIndexAnswersFixture(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		seedFixture(t, db)
		ix := mustOpen(t, db, &fixedClock{testNow})
		for _, c := range fixtureCases() {
			if got := ids(t, ix, c.e); !slices.Equal(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
				t.Errorf("%s = %v, want %v", describe(c.e), got, c.want)
			}
		}
		st := ix.Stats()
		if st.Customers != 6 || st.Builds != 1 || st.BitmapBytes == 0 || !ix.Ready() {
			t.Errorf("stats %+v, ready %v", st, ix.Ready())
		}
	})
}

func TestPageAndCount(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		seedFixture(t, db)
		ix := mustOpen(t, db, &fixedClock{testNow})
		ctx := context.Background()
		e := not(set(segment.FieldTag, "VIP")) // 3, 4, 5, 6
		if n, err := ix.Count(ctx, e); err != nil || n != 4 {
			t.Fatalf("Count = %d, %v", n, err)
		}
		var all []uint32
		after := uint32(0)
		for {
			page, err := ix.Page(ctx, e, after, 3)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			all = append(all, page...)
			after = page[len(page)-1]
		}
		if !slices.Equal(all, []uint32{3, 4, 5, 6}) {
			t.Fatalf("pages gave %v", all)
		}
		if page, _ := ix.Page(ctx, e, 4, 1); !slices.Equal(page, []uint32{5}) {
			t.Fatalf("page after 4 = %v", page)
		}
		if _, err := ix.Page(ctx, e, 0, 0); err == nil || !strings.Contains(err.Error(), "page holds") {
			t.Fatalf("limit 0: %v", err)
		}
	})
}

func TestCatalog(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		seedFixture(t, db)
		ix := mustOpen(t, db, &fixedClock{testNow})
		if !ix.Has(segment.FieldTag, "VIP") || ix.Has(segment.FieldTag, "vip") || !ix.Has(segment.FieldTagGroup, "兴趣") {
			t.Error("tags or groups wrong")
		}
		// m3 is on record without follows; "live" is also on an ended follow.
		if !ix.Has(segment.FieldMember, "m3") || !ix.Has(segment.FieldChannel, "ad") || ix.Has(segment.FieldChannel, "tv") {
			t.Error("members or channels wrong")
		}
		if got := ix.Names(segment.FieldTag); !slices.Equal(got, []string{"VIP", "普通", "跑步"}) {
			t.Errorf("tag names %v", got)
		}
		if got := ix.Names(segment.FieldChannel); !slices.Equal(got, []string{"ad", "live"}) {
			t.Errorf("channel names %v", got)
		}
		if got := ix.Names(segment.FieldMember); !slices.Equal(got, []string{"m1", "m2", "m3"}) {
			t.Errorf("member names %v", got)
		}
	})
}

func TestRefusesIDsBeyond32Bits(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		addCustomer(t, db, 1<<32, "wmbig")
		_, err := Open(context.Background(), db, shanghai, &fixedClock{testNow})
		if err == nil || !strings.Contains(err.Error(), "4294967296 does not fit 32 bits") {
			t.Fatalf("Open = %v, want a clear refusal", err)
		}
	})
}

// TestReachableMerge checks reachable:wecom where a build merges the
// grants with the customers by external_userid (SQLite): keys in another
// order than the ids, beyond ASCII, grants of people who are no customer
// (before, between and after the customers' keys) and customers without a
// grant.
func TestReachableMerge(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		exts := map[int64]string{1: "wm9", 2: "wm10", 3: "wm1", 4: "客户b", 5: "客户a", 6: "wmé", 7: "wm2", 8: "zz"}
		for id, ext := range exts {
			addCustomer(t, db, id, ext)
		}
		for _, key := range []string{"a0", "wm1", "wm10", "wm100", "wm2", "wm3", "wmé", "客户a", "客户c", "zz", "zzz"} {
			setConsent(t, db, "external_userid", key, "", "wecom", "grant", nil, false)
		}
		setConsent(t, db, "external_userid", "wm9", "", "wecom", "withdraw", nil, false)
		ix := mustOpen(t, db, &fixedClock{testNow})
		bm, err := ix.Eval(context.Background(), &segment.Term{Field: segment.FieldReachable, Op: segment.OpIs, Name: "wecom"})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := bm.ToArray(), []uint32{2, 3, 5, 6, 7, 8}; !slices.Equal(got, want) {
			t.Errorf("reachable:wecom = %v, want %v", got, want)
		}
	})
}
