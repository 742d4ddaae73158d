package orders_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/orders"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

func TestPutIsIdempotentAndReportsConflicts(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		o := order("T1001", 12_900, now.Add(-48*time.Hour))
		o.Phone, o.Address, o.BuyerAccount = "13812341234", "江苏省 南京市 建邺区 沙洲街道 1 号", "tb_buyer"
		if got := f.put(t, o, o); !slices.Equal(got, []orders.Outcome{orders.Inserted, orders.Unchanged}) {
			t.Fatalf("outcomes %v", got)
		}
		moved := o
		moved.Status, moved.RefundFen = orders.StatusRefunded, 12_900
		changed := o
		changed.TotalFen = 99_900
		changed.Items = []orders.Item{{SKU: "SKU-1", Title: "茶叶", Quantity: 1, PriceFen: 99_900}}
		if got := f.put(t, moved, moved, changed); !slices.Equal(got, []orders.Outcome{orders.Updated, orders.Unchanged, orders.Conflict}) {
			t.Fatalf("outcomes %v", got)
		}
		var status string
		var total, refund int64
		var phoneSealed, phoneIndex, addrSealed string
		if err := db.R.QueryRow(`SELECT status, total_fen, refund_fen, phone_sealed, phone_index, address_sealed FROM orders WHERE order_no = 'T1001'`).
			Scan(&status, &total, &refund, &phoneSealed, &phoneIndex, &addrSealed); err != nil {
			t.Fatal(err)
		}
		if status != "refunded" || total != 12_900 || refund != 12_900 {
			t.Fatalf("stored %s %d %d", status, total, refund)
		}
		if strings.Contains(phoneSealed, "1234") || strings.Contains(addrSealed, "南京") || phoneIndex != f.p.Index("phone", "138 1234 1234") {
			t.Fatalf("protected fields stored in clear or unindexed: %q %q %q", phoneSealed, addrSealed, phoneIndex)
		}
		var n int
		db.R.QueryRow(`SELECT count(*) FROM order_items`).Scan(&n)
		if n != 1 {
			t.Fatalf("%d items", n)
		}
	})
}

func TestOnlyPlainMobilesAreKept(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		var os []orders.Order
		for i, ph := range []string{"138****1234", "13812341234-5678", "025-86541234", "+86 139 0000 1111"} {
			o := order("P"+string(rune('a'+i)), 100, now)
			o.Phone = ph
			os = append(os, o)
		}
		f.put(t, os...)
		rows, err := db.R.Query(`SELECT order_no, phone_index FROM orders ORDER BY order_no`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var no, idx string
			rows.Scan(&no, &idx)
			got = append(got, no+"="+map[bool]string{true: "kept", false: ""}[idx != ""])
		}
		if want := []string{"Pa=", "Pb=", "Pc=", "Pd=kept"}; !slices.Equal(got, want) {
			t.Fatalf("kept %v, want %v", got, want)
		}
	})
}

func TestOrdersJoinCustomersByPhoneIdentityAndIDs(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		byPhone := f.addCustomer(t, "wmPHONE", "", "13812341234")
		byUnion := f.addCustomer(t, "wmUNION", "unionA")
		byExt := f.addCustomer(t, "wmEXT", "")
		// Two customers share a number: no guess.
		f.addCustomer(t, "wmS1", "", "13900001111")
		f.addCustomer(t, "wmS2", "", "13900001111")

		a := order("A1", 10_000, now.Add(-24*time.Hour))
		a.BuyerAccount, a.Phone = "nick_a", "138-1234-1234"
		b := order("A2", 5_000, now.Add(-time.Hour)) // same account, no phone: through the identity
		b.BuyerAccount = "nick_a"
		c := order("U1", 700, now)
		c.UnionID = "unionA"
		d := order("E1", 800, now)
		d.ExternalUserID = "wmEXT"
		e := order("S1", 900, now)
		e.Phone = "13900001111"
		g := order("N1", 300, now) // same nick in another shop: a different identity
		g.Shop, g.BuyerAccount = "jd:自营", "nick_a"
		f.put(t, a, b, c, d, e, g)

		want := map[string]struct {
			customer int64
			how      string
		}{"A1": {byPhone, "phone"}, "A2": {byPhone, "identity"}, "U1": {byUnion, "unionid"}, "E1": {byExt, "external_userid"}, "S1": {0, ""}, "N1": {0, ""}}
		for no, w := range want {
			var cust *int64
			var how string
			if err := db.R.QueryRow(`SELECT customer_id, linked_by FROM orders WHERE order_no = $1`, no).Scan(&cust, &how); err != nil {
				t.Fatal(err)
			}
			got := int64(0)
			if cust != nil {
				got = *cust
			}
			if got != w.customer || how != w.how {
				t.Errorf("%s: customer %d by %q, want %d by %q", no, got, how, w.customer, w.how)
			}
		}
		if fa := f.facts(t, byPhone); fa.Orders != 2 || fa.SpentTotal != 15_000 || !fa.LastOrderAt.Equal(now.Add(-time.Hour)) {
			t.Fatalf("facts %+v", fa)
		}
		ids, err := f.s.Identities(context.Background(), byPhone)
		if err != nil || len(ids) != 1 || ids[0].Account != "nick_a" || ids[0].LinkedBy != "phone" || ids[0].Orders != 2 {
			t.Fatalf("identities %+v %v", ids, err)
		}
		list, err := f.s.OrdersOf(context.Background(), byPhone, 10)
		if err != nil || len(list) != 2 || list[0].OrderNo != "A2" || list[1].PhoneMasked != "138****1234" || len(list[1].Items) != 1 {
			t.Fatalf("orders of customer %+v %v", list, err)
		}
	})
}

func TestLinkAndUnlinkAreExplicitAndAudited(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		log := audit.New(db, f.clock)
		cust := f.addCustomer(t, "wmA", "", "13812341234")
		o := order("L1", 4_200, now)
		o.BuyerAccount = "nick_l"
		f.put(t, o)
		if fa := f.facts(t, cust); fa.Orders != 0 {
			t.Fatalf("linked without a reason: %+v", fa)
		}
		id, err := f.s.FindIdentity(ctx, o.Shop, "nick_l")
		if err != nil || id.CustomerID != 0 || id.Orders != 1 {
			t.Fatalf("identity %+v %v", id, err)
		}
		actor := audit.Actor{Kind: audit.ActorUser, Name: "owner"}
		if err := f.s.Link(ctx, id.ID, "wmA", actor, "", log); kith.ErrorCode(err) != kith.EINVALID {
			t.Fatalf("link without reason: %v", err)
		}
		if err := f.s.Link(ctx, id.ID, "wmNOBODY", actor, "told us in chat", log); kith.ErrorCode(err) != kith.ENOTFOUND {
			t.Fatalf("link to nobody: %v", err)
		}
		if err := f.s.Link(ctx, id.ID, "wmA", actor, "told us in chat", log); err != nil {
			t.Fatal(err)
		}
		if fa := f.facts(t, cust); fa.Orders != 1 || fa.SpentTotal != 4_200 {
			t.Fatalf("facts after link %+v", fa)
		}
		if err := f.s.Unlink(ctx, id.ID, actor, "wrong person", log); err != nil {
			t.Fatal(err)
		}
		if fa := f.facts(t, cust); fa.Orders != 0 || fa.SpentTotal != 0 || !fa.LastOrderAt.IsZero() {
			t.Fatalf("facts after unlink %+v", fa)
		}
		// A later order of the account with the customer's number does
		// not link it back: someone decided it is not them.
		o2 := order("L2", 100, now)
		o2.BuyerAccount, o2.Phone = "nick_l", "13812341234"
		f.put(t, o2)
		if fa := f.facts(t, cust); fa.Orders != 0 {
			t.Fatalf("relinked automatically: %+v", fa)
		}
		var actions []string
		rows, _ := db.R.Query(`SELECT action, purpose FROM audit_log ORDER BY seq`)
		for rows.Next() {
			var a, p string
			rows.Scan(&a, &p)
			actions = append(actions, a+":"+p)
		}
		rows.Close()
		if want := []string{"orders.identity.link:told us in chat", "orders.identity.unlink:wrong person"}; !slices.Equal(actions, want) {
			t.Fatalf("audit %v, want %v", actions, want)
		}
	})
}

func TestFactsWindowsMoveWithTime(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		cust := f.addCustomer(t, "wmF", "")
		var os []orders.Order
		for i, age := range []time.Duration{0, 20 * day, 60 * day, 200 * day, 400 * day} {
			o := order("F"+string(rune('0'+i)), int64(100*(i+1)), now.Add(-age))
			o.ExternalUserID = "wmF"
			os = append(os, o)
		}
		unpaid := order("F9", 1_000_000, now)
		unpaid.ExternalUserID, unpaid.Status, unpaid.PaidAt = "wmF", orders.StatusPending, time.Time{}
		partly := order("F8", 1_000, now.Add(-2*day))
		partly.ExternalUserID, partly.RefundFen = "wmF", 400
		f.put(t, append(os, unpaid, partly)...)
		want := orders.Facts{Orders: 6, Spent30d: 100 + 200 + 600, Spent90d: 100 + 200 + 300 + 600, Spent365d: 100 + 200 + 300 + 400 + 600,
			SpentTotal: 100 + 200 + 300 + 400 + 500 + 600, FirstOrderAt: now.Add(-400 * day), LastOrderAt: now,
			AvgOrder: 350, Refunds: 1, RefundFen: 400} // 2100 over 6
		if got := f.facts(t, cust); got != want {
			t.Fatalf("facts %+v, want %+v", got, want)
		}
		// 45 days on with no new order: the windows move, the total stays.
		f.clock.Add(45 * day)
		n, err := f.s.RefreshWindows(ctx)
		if err != nil || n != 1 {
			t.Fatalf("refresh %d %v", n, err)
		}
		want.Spent30d, want.Spent90d, want.Spent365d = 0, 100+200+600, 100+200+300+400+600
		if got := f.facts(t, cust); got != want {
			t.Fatalf("facts after 45 days %+v, want %+v", got, want)
		}
		f.clock.Add(400 * day)
		f.s.RefreshWindows(ctx)
		want.Spent90d, want.Spent365d = 0, 0
		if got := f.facts(t, cust); got != want {
			t.Fatalf("facts after a year %+v, want %+v", got, want)
		}
	})
}

func TestPaymentsAttachAndCount(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		cust := f.addCustomer(t, "wmPAY", "")
		p := orders.Payment{Source: "wecom", TransactionID: "tx1", ExternalUserID: "wmPAY", MemberUserID: "zhangsan", AmountFen: 5_000, PaidAt: now, Description: "定制礼盒"}
		var got []orders.Outcome
		err := f.s.Write(ctx, func(w *orders.Writer) error {
			for _, q := range []orders.Payment{p, p, {Source: "wecom", TransactionID: "tx1", ExternalUserID: "wmPAY", AmountFen: 5_000, RefundedFen: 1_000, PaidAt: now},
				{Source: "wecom", TransactionID: "tx1", AmountFen: 6_000, PaidAt: now}} {
				o, err := w.PutPayment(ctx, &q)
				if err != nil {
					return err
				}
				got = append(got, o)
			}
			return w.SetCursor(ctx, "wecom.externalpay", "c1")
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, []orders.Outcome{orders.Inserted, orders.Unchanged, orders.Updated, orders.Conflict}) {
			t.Fatalf("outcomes %v", got)
		}
		if fa := f.facts(t, cust); fa.Orders != 1 || fa.SpentTotal != 4_000 {
			t.Fatalf("facts %+v", fa)
		}
		if c, _ := f.s.Cursor(ctx, "wecom.externalpay"); c != "c1" {
			t.Fatalf("cursor %q", c)
		}
		list, err := f.s.PaymentsOf(ctx, cust, 5)
		if err != nil || len(list) != 1 || list[0].MemberUserID != "zhangsan" || list[0].RefundedFen != 1_000 {
			t.Fatalf("payments %+v %v", list, err)
		}
	})
}

func TestValidateNamesWhatIsWrong(t *testing.T) {
	base := order("V1", 100, now)
	cases := map[string]func(o *orders.Order){
		"negative":        func(o *orders.Order) { o.TotalFen = -1 },
		"more than":       func(o *orders.Order) { o.TotalFen = orders.MaxAmountFen + 1 },
		"order number":    func(o *orders.Order) { o.OrderNo = " " },
		"refund":          func(o *orders.Order) { o.RefundFen = 200 },
		"order time":      func(o *orders.Order) { o.OrderedAt = time.Time{} },
		"quantity":        func(o *orders.Order) { o.Items[0].Quantity = 0 },
		"status":          func(o *orders.Order) { o.Status = "lost" },
		"not valid UTF-8": func(o *orders.Order) { o.Items[0].Title = "\xff" },
	}
	for want, mutate := range cases {
		o := base
		o.Items = slices.Clone(base.Items)
		mutate(&o)
		err := o.Validate()
		if kith.ErrorCode(err) != kith.EINVALID || !strings.Contains(kith.ErrorMessage(err), want) {
			t.Errorf("%s: %v", want, err)
		}
	}
	if err := base.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestPlainMobileAndMasks(t *testing.T) {
	for in, want := range map[string]string{"13812341234": "13812341234", "+86 138-1234-1234": "13812341234", "138****1234": "",
		"13812341234-123": "", "02586541234": "", "12812341234": "", "": ""} {
		if got, _ := orders.PlainMobile(in); got != want {
			t.Errorf("PlainMobile(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDailyScheduleAndWorker(t *testing.T) {
	d := orders.DailyAt{Loc: shanghai, Hour: 0, Minute: 5}
	// 2026-11-30 12:00 in Shanghai → next is 2026-12-01 00:05 there.
	if got, want := d.Next(now), time.Date(2026, 11, 30, 16, 5, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("next %v, want %v", got, want)
	}
	// Just before the time on the same day → that day.
	before := time.Date(2026, 11, 30, 16, 4, 0, 0, time.UTC)
	if got := d.Next(before); !got.Equal(time.Date(2026, 11, 30, 16, 5, 0, 0, time.UTC)) {
		t.Fatalf("next %v", got)
	}
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		cust := f.addCustomer(t, "wmJ", "")
		o := order("J1", 500, now.Add(-10*24*time.Hour))
		o.ExternalUserID = "wmJ"
		f.put(t, o)
		f.clock.Add(25 * 24 * time.Hour)
		w := &orders.RefreshWorker{Store: f.s}
		if err := w.Work(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		// The only buyer is in the lowest fifth of nobody: L = 0 of N = 1.
		if fa := f.facts(t, cust); fa.Spent30d != 0 || fa.Spent90d != 500 || fa.RFM != (orders.RFM{R: 1, F: 1, M: 1}) {
			t.Fatalf("facts after the job %+v", fa)
		}
	})
}

func TestSignatureExampleOfTheDocs(t *testing.T) {
	body := `{"orders":[{"shop":"mall","order_no":"W1001","status":"paid","total_fen":25800,"ordered_at":"2026-11-30T10:00:00+08:00"}]}`
	if got := orders.Sign("whsec_example", "1796011200", []byte(body)); got != "sha256=4e943fc4bc69e3fa070938b5ddc894951e7d87ac06026447ac30197fdb4663ef" {
		t.Fatalf("docs/api.md's example signature is %s", got)
	}
}

// TestKeyRotationReachesOrders: every sealed column of the orders work is
// re-sealed by the field-key rotation, so the old key can be retired.
func TestKeyRotationReachesOrders(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		cust := f.addCustomer(t, "wmROT", "")
		o := order("R1", 100, now)
		o.ExternalUserID, o.BuyerAccount, o.Phone, o.Address = "wmROT", "nick_r", "13812341234", "浙江省杭州市西湖区文三路 1 号"
		f.put(t, o)
		secret, err := f.s.AddSource(ctx, "mall")
		if err != nil {
			t.Fatal(err)
		}
		newKey, blind := bytes.Repeat([]byte{9}, 32), bytes.Repeat([]byte{2}, 32)
		both, err := protect.New(newKey, blind, bytes.Repeat([]byte{1}, 32))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := protect.Rotate(ctx, db, both.Sealer(), 10, nil); err != nil {
			t.Fatal(err)
		}
		only, _ := protect.New(newKey, blind)
		s := orders.NewStore(db, only, f.clock)
		list, err := s.OrdersOf(ctx, cust, 5)
		if err != nil || len(list) != 1 || list[0].PhoneMasked != "138****1234" || list[0].District != "浙江省杭州市****" {
			t.Fatalf("after rotation: %+v %v", list, err)
		}
		ids, err := s.Identities(ctx, cust)
		if err != nil || len(ids) != 1 || ids[0].Account != "nick_r" {
			t.Fatalf("identities after rotation: %+v %v", ids, err)
		}
		ts := fmt.Sprint(now.Unix())
		if err := s.VerifyWebhook(ctx, "mall", ts, orders.Sign(secret, ts, []byte("{}")), []byte("{}")); err != nil {
			t.Fatalf("webhook secret after rotation: %v", err)
		}
	})
}

func TestPendingOrdersJoinCustomersWhoCameLater(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a := order("P1", 1_000, now)
		a.Phone, a.BuyerAccount = "13812341234", "nick_p"
		b := order("P2", 2_000, now) // same account, no phone: follows through the identity
		b.BuyerAccount = "nick_p"
		u := order("U1", 300, now)
		u.UnionID = "unionLATE"
		x := order("X1", 400, now) // a number two customers hold: no guess
		x.Phone = "13900001111"
		f.put(t, a, b, u, x)
		if err := f.s.Write(ctx, func(w *orders.Writer) error {
			_, err := w.PutPayment(ctx, &orders.Payment{Source: "wecom", TransactionID: "T9", ExternalUserID: "wmLATE", AmountFen: 500, PaidAt: now})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if n, err := f.s.LinkPending(ctx); err != nil || n != 0 {
			t.Fatalf("nobody to join yet: %d %v", n, err)
		}
		byPhone := f.addCustomer(t, "wmLATE", "", "138 1234 1234")
		byUnion := f.addCustomer(t, "wmUNION", "unionLATE")
		f.addCustomer(t, "wmS1", "", "13900001111")
		f.addCustomer(t, "wmS2", "", "13900001111")
		n, err := f.s.LinkPending(ctx)
		if err != nil || n != 3 {
			t.Fatalf("linked %d %v", n, err)
		}
		if fa := f.facts(t, byPhone); fa.Orders != 3 || fa.SpentTotal != 3_500 {
			t.Fatalf("phone customer facts %+v", fa)
		}
		if fa := f.facts(t, byUnion); fa.Orders != 1 || fa.SpentTotal != 300 {
			t.Fatalf("unionid customer facts %+v", fa)
		}
		if n, _ := f.s.LinkPending(ctx); n != 0 {
			t.Fatalf("linked again: %d", n)
		}
	})
}
