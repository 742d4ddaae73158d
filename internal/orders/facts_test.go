package orders_test

import (
	"context"
	"database/sql"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/orders"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

const day = 24 * time.Hour

// item is a line of an order.
func item(sku string, qty int, priceFen int64) orders.Item {
	return orders.Item{SKU: sku, Title: "茶 " + sku, Quantity: qty, PriceFen: priceFen}
}

func TestFactsFirstAverageRefundsAndSKUs(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		cust := f.addCustomer(t, "wmS", "")
		a := order("S1", 10_000, now.Add(-40*day))
		a.Items = []orders.Item{item("SKU-1", 1, 6_000), item("SKU-2", 2, 2_000)}
		b := order("S2", 5_000, now.Add(-10*day))
		b.RefundFen, b.Items = 2_000, []orders.Item{item("SKU-1", 1, 5_000)}
		c := order("S3", 3_000, now.Add(-5*day))
		c.Status, c.RefundFen, c.Items = orders.StatusRefunded, 3_000, []orders.Item{item("SKU-3", 1, 3_000)}
		d := order("S4", 9_900, now.Add(-1*day))
		d.Status, d.PaidAt, d.Items = orders.StatusPending, time.Time{}, []orders.Item{item("SKU-9", 1, 9_900)}
		for _, o := range []*orders.Order{&a, &b, &c, &d} {
			o.ExternalUserID = "wmS"
		}
		f.put(t, a, b, c, d)
		paidAt := now.Add(-1 * day)
		err := f.s.Write(ctx, func(w *orders.Writer) error {
			_, err := w.PutPayment(ctx, &orders.Payment{Source: "wecom", TransactionID: "txS", ExternalUserID: "wmS", MemberUserID: "zhangsan",
				AmountFen: 2_502, PaidAt: paidAt})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		// Purchases: a 100.00, b 50.00 less 20.00 back, c 30.00 all back,
		// the payment 25.02; d was never paid. 155.02 over 4 purchases is
		// 38.755, so 38.76.
		got := f.facts(t, cust)
		want := orders.Facts{Orders: 4, Spent30d: 3_000 + 0 + 2_502, Spent90d: 10_000 + 3_000 + 2_502, Spent365d: 15_502, SpentTotal: 15_502,
			FirstOrderAt: a.OrderedAt, LastOrderAt: paidAt, AvgOrder: 3_876, Refunds: 2, RefundFen: 5_000}
		if got != want {
			t.Fatalf("facts %+v\nwant  %+v", got, want)
		}
		// SKU-3 was refunded in full and SKU-9 never paid: neither counts.
		bought, err := f.s.BoughtBy(ctx, cust)
		if err != nil {
			t.Fatal(err)
		}
		wantBought := []orders.Bought{
			{SKU: "SKU-1", Orders: 2, Quantity: 2, SpentFen: 11_000, FirstAt: a.OrderedAt, LastAt: b.OrderedAt},
			{SKU: "SKU-2", Orders: 1, Quantity: 2, SpentFen: 4_000, FirstAt: a.OrderedAt, LastAt: a.OrderedAt},
		}
		if !reflect.DeepEqual(bought, wantBought) {
			t.Fatalf("bought %+v\nwant   %+v", bought, wantBought)
		}

		// The catalogue puts SKUs in categories; what customers bought
		// follows at once, and so do later orders.
		if err := f.s.SetCategories(ctx, map[string]string{"SKU-1": "绿茶", "SKU-2": "白茶", "SKU-7": "红茶"}); err != nil {
			t.Fatal(err)
		}
		if cats, err := f.s.CategoriesOf(ctx, cust); err != nil || !slices.Equal(cats, []string{"白茶", "绿茶"}) {
			t.Fatalf("categories %q %v", cats, err)
		}
		e := order("S5", 1_500, now)
		e.ExternalUserID, e.Items = "wmS", []orders.Item{item("SKU-7", 3, 500)}
		f.put(t, e)
		if cats, _ := f.s.CategoriesOf(ctx, cust); !slices.Equal(cats, []string{"白茶", "红茶", "绿茶"}) {
			t.Fatalf("categories after a red tea %q", cats)
		}
		if err := f.s.SetCategories(ctx, map[string]string{"SKU-2": ""}); err != nil {
			t.Fatal(err)
		}
		bought, _ = f.s.BoughtBy(ctx, cust)
		if len(bought) != 3 || bought[0].Category != "绿茶" || bought[1].Category != "" || bought[2].SKU != "SKU-7" || bought[2].Category != "红茶" ||
			bought[2].Quantity != 3 || bought[2].SpentFen != 1_500 {
			t.Fatalf("bought after the catalogue changed %+v", bought)
		}
		if cat, _ := f.s.Categories(ctx); !reflect.DeepEqual(cat, map[string]string{"SKU-1": "绿茶", "SKU-7": "红茶"}) {
			t.Fatalf("catalogue %v", cat)
		}
		for _, bad := range []map[string]string{{"": "茶"}, {" SKU-1": "茶"}, {"SKU-1": " 茶"}, {"SKU-1": "\xff"}} {
			if err := f.s.SetCategories(ctx, bad); kith.ErrorCode(err) != kith.EINVALID {
				t.Fatalf("SetCategories(%q) = %v, want EINVALID", bad, err)
			}
		}

	})
}

func TestFactsFollowLinkAndUnlink(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		cust := f.addCustomer(t, "wmU", "")
		o := order("U1", 4_000, now.Add(-3*day))
		o.ExternalUserID, o.BuyerAccount = "wmU", "tb_u"
		f.put(t, o)
		if _, err := db.W.ExecContext(ctx, `UPDATE customers SET rfm_r = 3, rfm_f = 3, rfm_m = 3, rfm_score = 333 WHERE id = $1`, cust); err != nil {
			t.Fatal(err)
		}
		var identityID int64
		if err := db.R.QueryRowContext(ctx, `SELECT id FROM shop_identities`).Scan(&identityID); err != nil {
			t.Fatal(err)
		}
		if b, _ := f.s.BoughtBy(ctx, cust); len(b) != 1 {
			t.Fatalf("SKUs before unlinking %+v", b)
		}
		if err := f.s.Unlink(ctx, identityID, audit.Actor{Kind: audit.ActorUser, Name: "owner"}, "wrong person", audit.New(db, f.clock)); err != nil {
			t.Fatal(err)
		}
		if got := f.facts(t, cust); got != (orders.Facts{}) {
			t.Fatalf("facts after unlinking %+v, want none", got)
		}
		if b, _ := f.s.BoughtBy(ctx, cust); len(b) != 0 {
			t.Fatalf("SKUs after unlinking %+v", b)
		}
	})
}

func TestScoreRFMQuintiles(t *testing.T) {
	// Six buyers and one customer who never bought. Last purchases on
	// 11-01, 11-01, 11-10, 11-20, 11-29, 11-29 (Shanghai): L = 0 0 2 3 4 4
	// of N = 6, so R = 1 + 5L/6 = 1 1 2 3 4 4. Purchases 5 1 1 2 3 1: L = 5
	// 0 0 3 4 0, F = 5 1 1 3 4 1. Spent 900.00 1.00 50.00 50.00 200.00 0:
	// L = 5 1 2 2 4 0, M = 5 1 2 2 4 1.
	at := func(d int) time.Time { return time.Date(2026, 11, d, 4, 0, 0, 0, time.UTC) }
	last := []time.Time{at(1), at(1), at(10), at(20), at(29), at(29), {}}
	count := []int{5, 1, 1, 2, 3, 1, 0}
	spent := []int64{90_000, 100, 5_000, 5_000, 20_000, 0, 0}
	got := orders.ScoreRFM(last, count, spent, shanghai)
	want := []orders.RFM{{1, 5, 5}, {1, 1, 1}, {2, 1, 2}, {3, 3, 2}, {4, 4, 4}, {4, 1, 1}, {}}
	if !slices.Equal(got, want) {
		t.Fatalf("ScoreRFM = %v, want %v", got, want)
	}
	if s := got[0].Score(); s != 155 {
		t.Fatalf("score %d", s)
	}
	// The order of the customers changes nothing.
	rev := func(s []orders.RFM) []orders.RFM { s = slices.Clone(s); slices.Reverse(s); return s }
	rl, rc, rs := slices.Clone(last), slices.Clone(count), slices.Clone(spent)
	slices.Reverse(rl)
	slices.Reverse(rc)
	slices.Reverse(rs)
	if got := orders.ScoreRFM(rl, rc, rs, shanghai); !slices.Equal(got, rev(want)) {
		t.Fatalf("reversed: %v", got)
	}
	// 23:30 in Shanghai on 11-01 is 15:30 UTC: the same day as 04:00 UTC.
	late := time.Date(2026, 11, 1, 15, 30, 0, 0, time.UTC)
	if got := orders.ScoreRFM([]time.Time{at(1), late}, []int{1, 1}, []int64{1, 1}, shanghai); got[0] != got[1] || got[0] != (orders.RFM{R: 1, F: 1, M: 1}) {
		t.Fatalf("same day in Shanghai: %v", got)
	}
	// 16:30 UTC is the next day there.
	next := time.Date(2026, 11, 1, 16, 30, 0, 0, time.UTC)
	if got := orders.ScoreRFM([]time.Time{at(1), next}, []int{1, 1}, []int64{1, 1}, shanghai); got[1].R != 3 {
		t.Fatalf("next day in Shanghai: %v", got)
	}
}

func TestRefreshRFM(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		at := func(d int) time.Time { return time.Date(2026, 11, d, 4, 0, 0, 0, time.UTC) }
		type c struct {
			last  time.Time
			count int
			spent int64
			want  int
		}
		cs := []c{{at(1), 5, 90_000, 155}, {at(1), 1, 100, 111}, {at(10), 1, 5_000, 212}, {at(20), 2, 5_000, 332},
			{at(29), 3, 20_000, 444}, {at(29), 1, 0, 411}}
		var ids []int64
		for i, cu := range cs {
			id := f.addCustomer(t, "wmR"+string(rune('a'+i)), "")
			ids = append(ids, id)
			if _, err := db.W.ExecContext(ctx, `UPDATE customers SET last_order_at = $1, order_count = $2, spent_total_fen = $3 WHERE id = $4`,
				cu.last, cu.count, cu.spent, id); err != nil {
				t.Fatal(err)
			}
		}
		// A customer with a score left from before and no purchase now.
		stale := f.addCustomer(t, "wmRstale", "")
		if _, err := db.W.ExecContext(ctx, `UPDATE customers SET rfm_r = 3, rfm_f = 2, rfm_m = 1, rfm_score = 321 WHERE id = $1`, stale); err != nil {
			t.Fatal(err)
		}
		n, err := f.s.RefreshRFM(ctx)
		if err != nil || n != 7 {
			t.Fatalf("RefreshRFM = %d, %v; want 7 changed", n, err)
		}
		score := func(id int64) (r, fq, m, s int) {
			t.Helper()
			if err := db.R.QueryRowContext(ctx, `SELECT rfm_r, rfm_f, rfm_m, rfm_score FROM customers WHERE id = $1`, id).Scan(&r, &fq, &m, &s); err != nil {
				t.Fatal(err)
			}
			return
		}
		for i, id := range ids {
			r, fq, m, s := score(id)
			if s != cs[i].want || 100*r+10*fq+m != s {
				t.Fatalf("customer %d: rfm %d %d %d score %d, want %d", i, r, fq, m, s, cs[i].want)
			}
			if fa := f.facts(t, id); fa.RFM.Score() != cs[i].want {
				t.Fatalf("FactsOf: RFM %+v", fa.RFM)
			}
		}
		if _, _, _, s := score(stale); s != 0 {
			t.Fatalf("stale score %d", s)
		}
		// Stable: nothing changed, nothing is written.
		if n, err := f.s.RefreshRFM(ctx); err != nil || n != 0 {
			t.Fatalf("second RefreshRFM = %d, %v", n, err)
		}
	})
}

// addFollow adds a follow relation; ended zero keeps it active.
func addFollow(t *testing.T, db *store.DB, customerID int64, member, state string, added, ended time.Time) {
	t.Helper()
	status, end := "active", sql.NullTime{}
	if !ended.IsZero() {
		status, end = "deleted_by_customer", sql.NullTime{Time: ended, Valid: true}
	}
	if _, err := db.W.ExecContext(context.Background(), `INSERT INTO follows (customer_id, member_userid, state, added_at, status, ended_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $4)`, customerID, member, state, added, status, end); err != nil {
		t.Fatal(err)
	}
}

// addBareCustomer adds a customer nobody follows.
func addBareCustomer(t *testing.T, db *store.DB, externalUserID string) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		id, err = customer.ApplyCustomer(ctx, tx, customer.Customer{ExternalUserID: externalUserID, Name: "客户", Type: 1}, now)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestSalesByMemberAndChannel(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		// A: zhangsan's through the QR code since 60 days, lisi's too
		// through a link since 10 days; zhangsan added A first and owns A.
		a := addBareCustomer(t, db, "wmA")
		addFollow(t, db, a, "zhangsan", "ch-qr", now.Add(-60*day), time.Time{})
		addFollow(t, db, a, "lisi", "ch-link", now.Add(-10*day), time.Time{})
		// B: wangwu's through the link from 30 to 5 days ago; zhaoliu's
		// with no channel since 20 days.
		b := addBareCustomer(t, db, "wmB")
		addFollow(t, db, b, "wangwu", "ch-link", now.Add(-30*day), now.Add(-5*day))
		addFollow(t, db, b, "zhaoliu", "", now.Add(-20*day), time.Time{})

		put := func(no, ext string, fen, refund int64, at time.Time, st orders.Status) orders.Order {
			o := order(no, fen, at)
			o.ExternalUserID, o.RefundFen, o.Status = ext, refund, st
			return o
		}
		done := orders.StatusCompleted
		f.put(t,
			put("A1", "wmA", 10_000, 0, now.Add(-40*day), done), // 10-21: zhangsan, ch-qr
			put("A2", "wmA", 2_000, 0, now.Add(-5*day), done),   // 11-25: zhangsan (lisi came later), ch-qr
			// 2026-11-29 16:30 UTC is 11-30 00:30 in Shanghai.
			put("A3", "wmA", 100, 0, time.Date(2026, 11, 29, 16, 30, 0, 0, time.UTC), done),
			put("B1", "wmB", 4_000, 0, now.Add(-25*day), done),                // 11-05: wangwu, ch-link
			put("B2", "wmB", 5_000, 1_000, now.Add(-3*day), done),             // 11-27: wangwu gone, zhaoliu, no channel
			put("B3", "wmB", 700, 0, now.Add(-50*day), done),                  // 10-11: before anyone followed B
			put("B4", "wmB", 8_000, 0, now.Add(-3*day), orders.StatusPending), // not paid
			put("B5", "wmB", 6_000, 0, now.Add(-70*day), done),                // before the range
			put("X1", "", 900, 0, now.Add(-3*day), done),                      // 11-27: joined no customer, not counted
		)
		err := f.s.Write(ctx, func(w *orders.Writer) error {
			_, err := w.PutPayment(ctx, &orders.Payment{Source: "wecom", TransactionID: "txA", ExternalUserID: "wmA", MemberUserID: "lisi",
				AmountFen: 3_000, PaidAt: now.Add(-2 * day)}) // 11-28: lisi collected it; A came through ch-qr
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		s, err := f.s.Sales(ctx, now.Add(-60*day), now)
		if err != nil {
			t.Fatal(err)
		}
		if s.From != "2026-10-01" || s.To != "2026-11-30" {
			t.Fatalf("range %s..%s", s.From, s.To)
		}
		want := []orders.SalesCell{
			{Day: "2026-10-11", Purchases: 1, AmountFen: 700},
			{Day: "2026-10-21", Member: "zhangsan", Channel: "ch-qr", Purchases: 1, AmountFen: 10_000},
			{Day: "2026-11-05", Member: "wangwu", Channel: "ch-link", Purchases: 1, AmountFen: 4_000},
			{Day: "2026-11-25", Member: "zhangsan", Channel: "ch-qr", Purchases: 1, AmountFen: 2_000},
			{Day: "2026-11-27", Member: "zhaoliu", Purchases: 1, AmountFen: 4_000},
			{Day: "2026-11-28", Member: "lisi", Channel: "ch-qr", Purchases: 1, AmountFen: 3_000},
			{Day: "2026-11-30", Member: "zhangsan", Channel: "ch-qr", Purchases: 1, AmountFen: 100},
		}
		if !reflect.DeepEqual(s.Cells, want) {
			t.Fatalf("cells\n%+v\nwant\n%+v", s.Cells, want)
		}
		if tot := s.Total(); tot.Purchases != 7 || tot.AmountFen != 23_800 {
			t.Fatalf("total %+v", tot)
		}
		byMember := s.ByMember()
		wantMember := []orders.SalesCell{{Day: "2026-10-11", Purchases: 1, AmountFen: 700}, {Day: "2026-10-21", Member: "zhangsan", Purchases: 1, AmountFen: 10_000},
			{Day: "2026-11-05", Member: "wangwu", Purchases: 1, AmountFen: 4_000}, {Day: "2026-11-25", Member: "zhangsan", Purchases: 1, AmountFen: 2_000},
			{Day: "2026-11-27", Member: "zhaoliu", Purchases: 1, AmountFen: 4_000}, {Day: "2026-11-28", Member: "lisi", Purchases: 1, AmountFen: 3_000},
			{Day: "2026-11-30", Member: "zhangsan", Purchases: 1, AmountFen: 100}}
		if !reflect.DeepEqual(byMember, wantMember) {
			t.Fatalf("by member %+v", byMember)
		}
		// Cells of one day add up per channel and per member.
		f.put(t, put("A4", "wmA", 50, 0, now.Add(-25*day).Add(time.Hour), done)) // 11-05 too: zhangsan, ch-qr
		if s, err = f.s.Sales(ctx, now.Add(-60*day), now); err != nil {
			t.Fatal(err)
		}
		byChannel := s.ByChannel()
		if i := slices.IndexFunc(byChannel, func(c orders.SalesCell) bool { return c.Day == "2026-11-05" }); i < 0 || i+2 > len(byChannel) ||
			!reflect.DeepEqual(byChannel[i:i+2], []orders.SalesCell{{Day: "2026-11-05", Channel: "ch-link", Purchases: 1, AmountFen: 4_000},
				{Day: "2026-11-05", Channel: "ch-qr", Purchases: 1, AmountFen: 50}}) {
			t.Fatalf("by channel %+v", byChannel)
		}
		byMember = s.ByMember()
		if i := slices.IndexFunc(byMember, func(c orders.SalesCell) bool { return c.Day == "2026-11-05" }); i < 0 || i+2 > len(byMember) ||
			!reflect.DeepEqual(byMember[i:i+2], []orders.SalesCell{{Day: "2026-11-05", Member: "wangwu", Purchases: 1, AmountFen: 4_000},
				{Day: "2026-11-05", Member: "zhangsan", Purchases: 1, AmountFen: 50}}) {
			t.Fatalf("by member with A4 %+v", byMember)
		}
		// Two orders of one member, channel and day make one cell.
		f.put(t, put("A5", "wmA", 25, 0, now.Add(-25*day).Add(2*time.Hour), done))
		if s, err = f.s.Sales(ctx, now.Add(-60*day), now); err != nil {
			t.Fatal(err)
		}
		if i := slices.IndexFunc(s.Cells, func(c orders.SalesCell) bool { return c.Day == "2026-11-05" && c.Member == "zhangsan" }); i < 0 ||
			s.Cells[i] != (orders.SalesCell{Day: "2026-11-05", Member: "zhangsan", Channel: "ch-qr", Purchases: 2, AmountFen: 75}) {
			t.Fatalf("cells %+v", s.Cells)
		}
		if qr := s.OfChannel("ch-qr"); len(qr) != 5 || qr[3].Member != "lisi" {
			t.Fatalf("ch-qr %+v", qr)
		}
		// One channel alone, as acquisition's statistics read it.
		link, err := orders.ChannelSalesOf(ctx, db.R, "ch-link", now.Add(-60*day), now, shanghai)
		if err != nil || !reflect.DeepEqual(link, []orders.SalesCell{want[2]}) {
			t.Fatalf("ch-link: %+v %v", link, err)
		}
		if qr, err := orders.ChannelSalesOf(ctx, db.R, "ch-qr", now.Add(-60*day), now, shanghai); err != nil || !reflect.DeepEqual(qr, s.OfChannel("ch-qr")) {
			t.Fatalf("ch-qr alone: %+v %v", qr, err)
		}
		if none, err := orders.ChannelSalesOf(ctx, db.R, "ch-none", now.Add(-60*day), now, shanghai); err != nil || len(none) != 0 {
			t.Fatalf("a channel nobody came through: %+v %v", none, err)
		}
		// One day, in the instance's zone.
		s, err = orders.SalesOf(ctx, db.R, time.Date(2026, 11, 30, 0, 0, 0, 0, shanghai), time.Date(2026, 11, 30, 23, 0, 0, 0, shanghai), shanghai)
		if err != nil || len(s.Cells) != 1 || s.Cells[0].AmountFen != 100 {
			t.Fatalf("one day: %+v %v", s, err)
		}
		if _, err := f.s.Sales(ctx, now, now.Add(-day)); kith.ErrorCode(err) != kith.EINVALID {
			t.Fatalf("reversed range: %v", err)
		}
		if _, err := f.s.Sales(ctx, now.Add(-400*day), now); kith.ErrorCode(err) != kith.EINVALID {
			t.Fatalf("over a year: %v", err)
		}
	})
}
