package wecompay_test

import (
	"bytes"
	"context"
	"database/sql"
	"strconv"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/orders"
	"github.com/kith-scrm/kith/internal/orders/wecompay"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
	"github.com/kith-scrm/kith/internal/wecom"
	"github.com/kith-scrm/kith/internal/wecom/wecomtest"
)

func TestPullExternalPayments(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)
		sb := wecomtest.Start(t, wecomtest.Options{})
		client, err := wecom.New(wecom.Config{BaseURL: sb.URL, CorpID: wecomtest.DefaultCorpID, Secret: wecomtest.DefaultSecret, MaxRetries: -1})
		if err != nil {
			t.Fatal(err)
		}
		var custID int64
		if err := db.InTx(ctx, func(tx *sql.Tx) error {
			custID, err = customer.ApplyCustomer(ctx, tx, customer.Customer{ExternalUserID: "wmPAYER", Name: "付款人", Type: 1}, now)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		day := int64(24 * 3600)
		// Two payments of the payer 10 and 100 days ago, one refunded in
		// part by a refund record; one of somebody Kith does not know; one
		// 400 days ago, before the first pull's year.
		sb.AddBill(wecomtest.PaymentBill{TransactionID: "T1", PayTime: now.Unix() - 10*day, OutTradeNo: "O1", ExternalUserID: "wmPAYER", TotalFee: 10_000, PayeeUserID: "zhangwei", Commodities: []string{"礼盒"}})
		sb.AddBill(wecomtest.PaymentBill{TransactionID: "T2", PayTime: now.Unix() - 100*day, OutTradeNo: "O2", ExternalUserID: "wmPAYER", TotalFee: 5_000, PayeeUserID: "lina"})
		sb.AddBill(wecomtest.PaymentBill{TransactionID: "R1", BillType: 1, PayTime: now.Unix() - 9*day, OutTradeNo: "O1", OutRefundNo: "RF1", ExternalUserID: "wmPAYER", TotalFee: 3_000})
		sb.AddBill(wecomtest.PaymentBill{TransactionID: "T3", PayTime: now.Unix() - 20*day, OutTradeNo: "O3", ExternalUserID: "wmOTHER", TotalFee: 700})
		sb.AddBill(wecomtest.PaymentBill{TransactionID: "T4", PayTime: now.Unix() - 400*day, OutTradeNo: "O4", ExternalUserID: "wmPAYER", TotalFee: 99})
		p, _ := protect.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
		s := orders.NewStore(db, p, kith.NewFixedClock(now))
		puller := &wecompay.Puller{Store: s, Lister: client, PageSize: 1}
		res, err := puller.Pull(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		// 13 windows of 30 days; windows with n records take n calls
		// (page size 1), plus one for the last page of each.
		if res.Payments != 3 || res.Refunds != 1 || res.Inserted != 4 || res.Calls < 13 {
			t.Fatalf("pull %+v", res)
		}
		list, err := s.PaymentsOf(ctx, custID, 10)
		if err != nil || len(list) != 2 || list[0].MemberUserID != "zhangwei" || list[0].RefundedFen != 3_000 || list[0].Description != "礼盒" {
			t.Fatalf("payments %+v %v", list, err)
		}
		fa, _ := s.FactsOf(ctx, custID)
		if fa.Orders != 2 || fa.SpentTotal != 7_000+5_000 || fa.Spent30d != 7_000 {
			t.Fatalf("facts %+v", fa)
		}
		if c, _ := s.Cursor(ctx, wecompay.CursorName); c != strconv.FormatInt(now.Unix(), 10) {
			t.Fatalf("cursor %q", c)
		}
		// The next pull reads only the last day again, and changes nothing.
		res, err = puller.Pull(ctx, now.Add(time.Hour))
		if err != nil || res.Inserted != 0 || res.Calls != 1 {
			t.Fatalf("second pull %+v %v", res, err)
		}
		// Nothing of payer_info is stored.
		var n int
		db.R.QueryRow(`SELECT count(*) FROM payments WHERE description LIKE '%13800000000%' OR description LIKE '%付款人%'`).Scan(&n)
		if n != 0 {
			t.Fatal("payer info stored")
		}
	})
}

func TestGetBillListRefusesBadArguments(t *testing.T) {
	client, _ := wecom.New(wecom.Config{BaseURL: "http://127.0.0.1:1", CorpID: "c", Secret: "s"})
	now := time.Now()
	for _, c := range []struct {
		begin, end time.Time
		limit      int
	}{{now, now, 10}, {now.Add(-40 * 24 * time.Hour), now, 10}, {now.Add(-time.Hour), now, 1001}} {
		if _, err := client.GetBillList(context.Background(), c.begin, c.end, "", "", c.limit); kith.ErrorCode(err) != kith.EINVALID {
			t.Errorf("%v–%v limit %d: %v", c.begin, c.end, c.limit, err)
		}
	}
}

func TestPullWorker(t *testing.T) {
	db := storetest.MustSQLite(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)
	p, _ := protect.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
	s := orders.NewStore(db, p, kith.NewFixedClock(now))
	w := &wecompay.PullWorker{Store: s, Clock: kith.NewFixedClock(now),
		Client: func(context.Context) (*wecom.Client, error) {
			return nil, kith.Errorf(kith.EUNAVAILABLE, "not configured")
		}}
	if err := w.Work(ctx, nil); err != nil {
		t.Fatalf("unconfigured WeCom: %v", err)
	}
	sb := wecomtest.Start(t, wecomtest.Options{})
	wecomtest.MustSeed(t, sb.Sandbox, 3, wecomtest.SeedOptions{Customers: 20})
	sb.SeedPayments(3, 40, now)
	client, _ := wecom.New(wecom.Config{BaseURL: sb.URL, CorpID: wecomtest.DefaultCorpID, Secret: wecomtest.DefaultSecret, MaxRetries: -1})
	w.Client = func(context.Context) (*wecom.Client, error) { return client, nil }
	if err := w.Work(ctx, nil); err != nil {
		t.Fatal(err)
	}
	var n int
	db.R.QueryRow(`SELECT count(*) FROM payments`).Scan(&n)
	if n != 40 {
		t.Fatalf("%d payments pulled, want 40", n)
	}
}
