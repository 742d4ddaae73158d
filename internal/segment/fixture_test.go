package segment_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/segment"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// The hand-built data the reference SQL is tested on: eight customers that
// between them have every case the semantics distinguish (no follows, only
// ended follows, a tag on an ended follow, the same tag name in two groups,
// follows added a microsecond before and exactly at midnight in Shanghai,
// consent granted, withdrawn, refused, expired, expiring exactly now,
// suppressed, for another purpose, on another identity).

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}()

// fxNow is the instant the fixture is queried at.
var fxNow = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

// sh is a wall-clock time in Shanghai, as a UTC instant.
func sh(y int, m time.Month, d, hh, mm, ss, us int) time.Time {
	return time.Date(y, m, d, hh, mm, ss, us*1000, shanghai).UTC()
}

func ptr[T any](v T) *T { return &v }

type fxFollow struct {
	member, state, status string
	added                 time.Time
	tags                  []string // tag ids
}

type fxCustomer struct {
	key                   string // external_userid
	follows               []fxFollow
	orders                int64
	s30, s90, s365, total int64 // fen
	lastOrder             *time.Time
	phones                []string // phone indexes, on the first follow
	facts                 fxFacts
}

// fxFacts are the facts of migration 00017 (see orders).
type fxFacts struct {
	aov, refunds, refunded int64
	rfm                    fxRFM
	firstOrder             *time.Time
	skus                   []string // customer_skus, categories from fxSKUs
}

// fxSKUs is the merchant's catalogue: SKU code → category. SKU-C has none;
// SKU-E nobody bought.
var fxSKUs = map[string]string{"SKU-A": "女装", "SKU-B": "鞋", "SKU-D": "女装", "SKU-E": "童装"}

type fxConsent struct {
	kind, key, purpose, channel, action string
	validUntil                          *time.Time
	suppressed                          bool
	index                               string
}

// Tag ids → (name, group name).
var fxTags = map[string][2]string{
	"t1": {"VIP", "会员等级"}, "t2": {"普通", "会员等级"},
	"t3": {"复购", "兴趣"}, "t4": {"VIP", "兴趣"},
}

var fxCustomers = []fxCustomer{
	{key: "c1", follows: []fxFollow{{"zhangsan", "双11直播", "active", sh(2026, 1, 1, 0, 30, 0, 0), []string{"t1"}}},
		orders: 5, s30: 10000, s90: 50000, s365: 80000, total: 120000, lastOrder: ptr(sh(2026, 11, 20, 10, 0, 0, 0)),
		facts: fxFacts{24000, 1, 5000, fxRFM{5, 4, 5}, ptr(sh(2025, 3, 1, 10, 0, 0, 0)), []string{"SKU-A", "SKU-B"}}},
	{key: "c2", follows: []fxFollow{
		{"lisi", "", "active", sh(2026, 1, 31, 23, 59, 0, 0), []string{"t3"}},
		{"zhangsan", "双11直播", "deleted_by_member", sh(2025, 6, 1, 12, 0, 0, 0), []string{"t4"}}},
		orders: 1, s30: 49999, s90: 49999, s365: 49999, total: 49999, lastOrder: ptr(sh(2026, 2, 1, 0, 0, 0, 0)),
		facts: fxFacts{49999, 0, 0, fxRFM{3, 1, 3}, ptr(sh(2026, 2, 1, 0, 0, 0, 0)), []string{"SKU-A"}}},
	{key: "c3"},
	{key: "c4", follows: []fxFollow{
		{"wangwu", "双11直播", "active", sh(2026, 2, 1, 0, 0, 0, 0), []string{"t4"}},
		{"zhangsan", "", "active", sh(2026, 3, 5, 9, 0, 0, 0), []string{"t2"}}},
		orders: 3, s90: 50001, s365: 50001, total: 50001, lastOrder: ptr(sh(2026, 3, 5, 9, 0, 0, 0)), phones: []string{"idx4"},
		facts: fxFacts{16667, 2, 100, fxRFM{4, 3, 3}, ptr(sh(2026, 1, 31, 23, 59, 59, 0)), []string{"SKU-C"}}},
	{key: "c5", follows: []fxFollow{{"lisi", "双11直播", "deleted_by_customer", sh(2026, 1, 15, 8, 0, 0, 0), []string{"t1"}}},
		lastOrder: ptr(sh(2025, 12, 31, 23, 59, 59, 0)), phones: []string{"idx5"}},
	{key: "c6", follows: []fxFollow{{"zhangsan", "抖音", "active", sh(2026, 1, 31, 23, 59, 59, 999999), []string{"t1", "t3"}}},
		orders: 10, total: 99, phones: []string{"idx67"},
		facts: fxFacts{10, 10, 99999, fxRFM{1, 5, 1}, ptr(sh(2024, 12, 31, 23, 59, 59, 0)), []string{"SKU-B"}}},
	{key: "c7", follows: []fxFollow{{"lisi", "", "active", sh(2025, 12, 31, 23, 59, 59, 0), []string{"t2"}}},
		phones: []string{"idx67"}},
	{key: "c8", follows: []fxFollow{{"wangwu", "双11直播", "active", sh(2026, 6, 1, 0, 0, 0, 0), nil}},
		orders: 2, s365: 100000, total: 100000, phones: []string{"idx8"},
		facts: fxFacts{50000, 0, 0, fxRFM{2, 2, 4}, ptr(sh(2026, 6, 1, 0, 0, 0, 0)), []string{"SKU-D"}}},
}

var fxConsents = []fxConsent{
	{"external_userid", "c1", "marketing", "wecom", "grant", nil, false, ""},
	{"external_userid", "c2", "marketing", "wecom", "withdraw", nil, false, ""},
	{"external_userid", "c4", "marketing", "wecom", "grant", nil, true, ""},
	{"external_userid", "c5", "marketing", "wecom", "grant", ptr(fxNow.Add(-time.Hour)), false, ""},
	{"external_userid", "c6", "marketing", "wecom", "grant", ptr(fxNow.Add(24 * time.Hour)), false, ""},
	{"external_userid", "c8", "service", "wecom", "grant", nil, false, ""},
	{"external_userid", "c3", "marketing", "sms", "grant", nil, false, ""}, // sms goes by phone, not by external user id
	{"phone", "p4", "marketing", "sms", "grant", ptr(fxNow.Add(24 * time.Hour)), false, "idx4"},
	{"phone", "p5", "marketing", "sms", "refuse", nil, false, "idx5"},
	{"phone", "p67", "marketing", "sms", "grant", nil, false, "idx67"},
	{"phone", "p8", "marketing", "sms", "grant", ptr(fxNow), false, "idx8"}, // expires exactly now
	{"email", "c1@example.com", "marketing", "email", "grant", nil, false, ""},
}

// loadFixture writes the fixture and returns the customers' ids by key.
func loadFixture(t *testing.T, db *store.DB) map[int64]string {
	t.Helper()
	ctx := context.Background()
	for _, m := range []string{"zhangsan", "lisi", "wangwu"} {
		storetest.MustExec(t, db, "INSERT INTO members (userid, name, updated_at) VALUES ($1, $1, $2)", m, fxNow)
	}
	for _, g := range []string{"会员等级", "兴趣"} {
		storetest.MustExec(t, db, "INSERT INTO tag_groups (group_id, name, created_at, updated_at) VALUES ($1, $2, $3, $3)", "g-"+g, g, fxNow)
	}
	for id, tg := range fxTags {
		storetest.MustExec(t, db, "INSERT INTO tags (tag_id, group_id, name, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)", id, "g-"+tg[1], tg[0], fxNow)
	}
	ids := map[int64]string{}
	for _, c := range fxCustomers {
		var id int64
		err := db.W.QueryRowContext(ctx, `INSERT INTO customers (external_userid, order_count, spent_30d_fen, spent_90d_fen,
			spent_365d_fen, spent_total_fen, last_order_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id`,
			c.key, c.orders, c.s30, c.s90, c.s365, c.total, c.lastOrder, fxNow).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		ids[id] = c.key
		f := c.facts
		storetest.MustExec(t, db, `UPDATE customers SET avg_order_fen = $1, refund_count = $2, refund_fen = $3, rfm_r = $4, rfm_f = $5,
			rfm_m = $6, rfm_score = $7, first_order_at = $8 WHERE id = $9`,
			f.aov, f.refunds, f.refunded, f.rfm[0], f.rfm[1], f.rfm[2], f.rfm.score(), f.firstOrder, id)
		for _, sku := range f.skus {
			storetest.MustExec(t, db, `INSERT INTO customer_skus (customer_id, sku, category, orders, quantity, spent_fen, first_at, last_at)
				VALUES ($1, $2, $3, 1, 1, 100, $4, $4)`, id, sku, fxSKUs[sku], fxNow)
		}
		for _, f := range c.follows {
			storetest.MustExec(t, db, `INSERT INTO follows (customer_id, member_userid, state, added_at, status, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6)`, id, f.member, f.state, f.added, f.status, fxNow)
			for _, tag := range f.tags {
				storetest.MustExec(t, db, "INSERT INTO follow_tags (customer_id, member_userid, tag_id) VALUES ($1, $2, $3)", id, f.member, tag)
			}
		}
		for _, p := range c.phones {
			storetest.MustExec(t, db, `INSERT INTO customer_phones (customer_id, member_userid, phone_sealed, phone_index, key_id)
				VALUES ($1, $2, 'sealed', $3, 'k1')`, id, c.follows[0].member, p)
		}
	}
	for sku, cat := range fxSKUs {
		if sku != "SKU-C" {
			storetest.MustExec(t, db, "INSERT INTO sku_categories (sku, category, updated_at) VALUES ($1, $2, $3)", sku, cat, fxNow)
		}
	}
	// The contract's columns, and those the gate added (occurred_at …
	// seq), which the reference SQL does not read.
	for i, s := range fxConsents {
		storetest.MustExec(t, db, `INSERT INTO consent_state (person_kind, person_key, purpose, channel, action, valid_until,
			event_id, suppressed, person_index, updated_at, occurred_at, received_at, source, seq)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $10, 'console', $7)`,
			s.kind, s.key, s.purpose, s.channel, s.action, s.validUntil, i+1, s.suppressed, s.index, fxNow)
	}
	return ids
}

// model answers an expression over the fixture in Go, from the semantics
// as documented, without SQL: the test's second opinion.
func model(e segment.Expr) []string {
	var out []string
	for _, c := range fxCustomers {
		if modelMatch(c, e) {
			out = append(out, c.key)
		}
	}
	return out
}

func modelMatch(c fxCustomer, e segment.Expr) bool {
	switch x := e.(type) {
	case *segment.And:
		for _, t := range x.Terms {
			if !modelMatch(c, t) {
				return false
			}
		}
		return true
	case *segment.Or:
		for _, t := range x.Terms {
			if modelMatch(c, t) {
				return true
			}
		}
		return false
	case *segment.Not:
		return !modelMatch(c, x.X)
	}
	t := e.(*segment.Term)
	active := func(pred func(f fxFollow) bool) bool {
		for _, f := range c.follows {
			if f.status == "active" && pred(f) {
				return true
			}
		}
		return false
	}
	hasTag := func(f fxFollow, idx int) bool {
		for _, id := range f.tags {
			if fxTags[id][idx] == t.Name {
				return true
			}
		}
		return false
	}
	switch t.Field {
	case segment.FieldTag:
		return active(func(f fxFollow) bool { return hasTag(f, 0) })
	case segment.FieldTagGroup:
		return active(func(f fxFollow) bool { return hasTag(f, 1) })
	case segment.FieldMember:
		return active(func(f fxFollow) bool { return f.member == t.Name })
	case segment.FieldChannel:
		return active(func(f fxFollow) bool { return f.state == t.Name })
	case segment.FieldReachable:
		return modelReachable(c, t.Name)
	case segment.FieldOrders:
		return compare(c.orders, t.Op, t.Num)
	case segment.FieldSpent30d:
		return compare(c.s30, t.Op, t.Num)
	case segment.FieldSpent90d:
		return compare(c.s90, t.Op, t.Num)
	case segment.FieldSpent365d:
		return compare(c.s365, t.Op, t.Num)
	case segment.FieldSpentTotal:
		return compare(c.total, t.Op, t.Num)
	case segment.FieldAdded:
		var first *time.Time
		for _, f := range c.follows {
			if f.status == "active" && (first == nil || f.added.Before(*first)) {
				first = ptr(f.added)
			}
		}
		return first != nil && compareDay(segment.DayOf(*first, shanghai), t)
	case segment.FieldLastOrder:
		return c.lastOrder != nil && compareDay(segment.DayOf(*c.lastOrder, shanghai), t)
	case segment.FieldFirstOrder:
		return c.facts.firstOrder != nil && compareDay(segment.DayOf(*c.facts.firstOrder, shanghai), t)
	case segment.FieldSKU:
		return slices.Contains(c.facts.skus, t.Name)
	case segment.FieldCategory:
		return slices.ContainsFunc(c.facts.skus, func(sku string) bool { return fxSKUs[sku] == t.Name })
	}
	if v, ok := map[segment.Field]int64{segment.FieldAOV: c.facts.aov, segment.FieldRefunds: c.facts.refunds,
		segment.FieldRefunded: c.facts.refunded, segment.FieldRFM: c.facts.rfm.score(),
		segment.FieldRFMR: c.facts.rfm[0], segment.FieldRFMF: c.facts.rfm[1], segment.FieldRFMM: c.facts.rfm[2]}[t.Field]; ok {
		return compare(v, t.Op, t.Num)
	}
	panic("model: unknown field " + t.Field)
}

func modelReachable(c fxCustomer, channel string) bool {
	for _, s := range fxConsents {
		ok := s.purpose == "marketing" && s.channel == channel && s.action == "grant" && !s.suppressed &&
			(s.validUntil == nil || s.validUntil.After(fxNow))
		if !ok {
			continue
		}
		switch {
		case channel == "wecom" && s.kind == "external_userid" && s.key == c.key:
			return true
		case channel == "sms" && s.kind == "phone" && slices.Contains(c.phones, s.index):
			return true
		}
	}
	return false
}

func compare[T int64 | int32](v T, op segment.Op, w T) bool {
	switch op {
	case segment.OpEq:
		return v == w
	case segment.OpNe:
		return v != w
	case segment.OpLt:
		return v < w
	case segment.OpLe:
		return v <= w
	case segment.OpGt:
		return v > w
	case segment.OpGe:
		return v >= w
	}
	panic("model: unknown op " + op)
}

func compareDay(d int32, t *segment.Term) bool {
	if t.Op == segment.OpIs {
		return t.From <= d && d <= t.To
	}
	return compare(d, t.Op, t.Day)
}

// fxRFM is R, F and M.
type fxRFM [3]int64

func (r fxRFM) score() int64 { return 100*r[0] + 10*r[1] + r[2] }
