package jst_test

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/orders"
	"github.com/kith-scrm/kith/internal/orders/jst"
	"github.com/kith-scrm/kith/internal/orders/jst/jsttest"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

func TestSign(t *testing.T) {
	cases := []struct {
		name   string
		params url.Values
		want   string
	}{
		// The example published with an open-source client's tests
		// (kocotree/jushuitan-mcp tests/test_signing.py).
		{"published example", url.Values{"timestamp": {"100"}, "app_key": {"app"}, "charset": {"utf-8"}}, "706427ca94e342781ac36d501151cb10"},
		// Worked with the same rule by the reference notes (orders.md 1.3).
		{"business call", url.Values{"access_token": {"tok"}, "app_key": {"app"}, "charset": {"utf-8"}, "timestamp": {"1700000000"}, "version": {"2"},
			"biz": {`{"page_index":1,"page_size":50,"modified_begin":"2024-04-06 00:00:00","modified_end":"2024-04-06 23:00:00"}`}},
			"d6bd24b75a2fedc75ce9809e09dfe26d"},
		{"init token", url.Values{"app_key": {"app"}, "charset": {"utf-8"}, "code": {"abc123"}, "grant_type": {"authorization_code"}, "timestamp": {"1700000000"}},
			"53d95a1c8213762a23d6233157a81e4d"},
		// sign itself and empty values are not signed.
		{"sign and empty values left out", url.Values{"timestamp": {"100"}, "app_key": {"app"}, "charset": {"utf-8"}, "sign": {"x"}, "empty": {""}},
			"706427ca94e342781ac36d501151cb10"},
	}
	for _, c := range cases {
		if got := jst.Sign(c.params, "secret"); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

func bj(s string) time.Time {
	t, err := time.ParseInLocation(jst.TimeLayout, s, jst.Beijing)
	if err != nil {
		panic(err)
	}
	return t
}

func TestConnectorPullsIncrementally(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := bj("2026-11-30 12:00:00")
		sb := jsttest.Start(t)
		sb.Now = func() time.Time { return now }
		order := func(so, status, modified string, extra map[string]any) map[string]any {
			o := map[string]any{"o_id": 1, "so_id": so, "shop_id": 7, "shop_name": "天猫店", "shop_buyer_id": "nick_" + so, "status": status,
				"paid_amount": "128.50", "freight": 0, "order_date": "2026-11-01 10:00:00", "pay_date": "2026-11-01 10:01:00", "modified": modified,
				"receiver_name": "收件人", "receiver_mobile": "13912345678", "receiver_state": "浙江省", "receiver_city": "杭州市",
				"receiver_district": "西湖区", "receiver_address": "文三路 1 号", "buyer_message": "请尽快发货",
				"items": []map[string]any{{"sku_id": "SKU-1", "name": "茶", "qty": 1, "price": 128.5, "amount": "128.50", "refund_status": "none"}}}
			for k, v := range extra {
				o[k] = v
			}
			return o
		}
		sb.AddOrder(order("A1", "Sent", "2026-11-10 09:00:00", map[string]any{"end_time": "2026-11-12 09:00:00"}))
		sb.AddOrder(order("A2", "WaitPay", "2026-11-20 09:00:00", nil))
		sb.AddOrder(order("A3", "Merged", "2026-11-21 09:00:00", nil))
		sb.AddOrder(order("A4", "Sent", "2026-11-29 09:00:00", map[string]any{"items": []map[string]any{{"sku_id": "SKU-2", "name": "壶", "qty": 1,
			"price": "128.50", "amount": "128.50", "refund_status": "success"}}}))
		sb.AddOrder(order("OLD", "Sent", "2026-08-01 09:00:00", nil))
		sb.RateLimitNext(1)

		p, _ := protect.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
		s := orders.NewStore(db, p, kith.NewFixedClock(now))
		client := &jst.Client{BaseURL: sb.URL, AppKey: jsttest.AppKey, AppSecret: jsttest.AppSecret, AccessToken: jsttest.AccessToken,
			Now: func() time.Time { return now }, Retries: 2, RetryWait: time.Millisecond}
		c := &jst.Connector{Name: "main", Client: client, Store: s, PageSize: 1, FirstPull: 30 * 24 * time.Hour}
		res, err := c.Pull(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		if res.Orders != 4 || res.Skipped != 1 || res.Inserted != 3 {
			t.Fatalf("first pull %+v", res)
		}
		got := map[string]string{}
		rows, _ := db.R.Query(`SELECT order_no, status, refund_fen, shop FROM orders ORDER BY order_no`)
		for rows.Next() {
			var no, st, shop string
			var refund int64
			rows.Scan(&no, &st, &refund, &shop)
			got[no] = st
			if shop != "jst:天猫店" {
				t.Errorf("%s shop %q", no, shop)
			}
		}
		rows.Close()
		if got["A1"] != "completed" || got["A2"] != "pending" || got["A4"] != "refunded" || len(got) != 3 {
			t.Fatalf("orders %v", got)
		}
		// Paid later: the next pull picks the change up from the cursor.
		later := now.Add(2 * time.Hour)
		sb.Now = func() time.Time { return later }
		client.Now = sb.Now
		sb.AddOrder(order("A2", "WaitConfirm", "2026-11-30 13:00:00", nil))
		res, err = c.Pull(ctx, later)
		if err != nil || res.Updated != 1 || res.Calls != 1 {
			t.Fatalf("second pull %+v %v", res, err)
		}
		// Refusals come back as errors naming the code.
		bad := *client
		bad.AccessToken = "expired"
		var je *jst.Error
		if _, err := bad.QueryOrders(ctx, jst.Query{ModifiedBegin: later.Add(-time.Hour), ModifiedEnd: later, PageIndex: 1, PageSize: 10}); !errors.As(err, &je) || je.Code != jst.CodeTokenInvalid {
			t.Fatalf("expired token: %v", err)
		}
		bad = *client
		bad.AppSecret = "wrong"
		if _, err := bad.QueryOrders(ctx, jst.Query{ModifiedBegin: later.Add(-time.Hour), ModifiedEnd: later, PageIndex: 1, PageSize: 10}); !errors.As(err, &je) || je.Code != jsttest.CodeBadSign {
			t.Fatalf("wrong secret: %v", err)
		}
		if _, err := client.QueryOrders(ctx, jst.Query{ModifiedBegin: later.Add(-8 * 24 * time.Hour), ModifiedEnd: later, PageIndex: 1, PageSize: 10}); kith.ErrorCode(err) != kith.EINVALID {
			t.Fatalf("8-day span: %v", err)
		}
	})
}
