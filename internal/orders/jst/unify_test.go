package jst_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/orders"
	"github.com/kith-scrm/kith/internal/orders/jst"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

const taobaoHeader = "订单编号,买家会员名,买家应付货款,买家应付邮费,买家实际支付金额,订单状态,收货人姓名,收货地址,联系手机,订单创建时间,订单付款时间,发货时间,确认收货时间,宝贝标题,宝贝总数量,商家编码"

// jstOrder is a sandbox order of the Tmall shop, as 聚水潭 returns it.
func jstOrder(so, status, paid, ordered string, extra map[string]any) map[string]any {
	o := map[string]any{"o_id": 1, "so_id": so, "shop_id": 10, "shop_name": "天猫旗舰店", "shop_site": "淘宝天猫", "shop_buyer_id": "tb_a",
		"status": status, "paid_amount": paid, "freight": "0.00", "order_date": ordered, "pay_date": ordered, "modified": "2026-11-20 10:00:00",
		"receiver_mobile": "13912345678", "receiver_state": "浙江省", "receiver_city": "杭州市", "receiver_district": "西湖区",
		"receiver_address": "文三路 1 号", "items": []map[string]any{{"sku_id": "SKU-1", "name": "明前龙井 250g", "qty": 1, "price": paid,
			"amount": paid, "refund_status": "none"}}}
	for k, v := range extra {
		o[k] = v
	}
	return o
}

// TestFileAndConnectorShareOrders imports a shop's export file, then pulls
// the same orders through the connector: they are the same orders (no
// second copy, the customer's facts unchanged), a further-along status
// moves an order on, different content is a reported conflict.
func TestFileAndConnectorShareOrders(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)
		f := newFixture(t, db, now)
		cust := addCustomer(t, f, "wmCust", "13912345678", now)

		// One file with a shop column, one without (its shop named on import).
		file := taobaoHeader + ",店铺名称\n" +
			"900001,tb_a,128.50,0.00,128.50,交易成功,张三,浙江省 杭州市 西湖区 文三路 1 号,13912345678,2026-11-01 10:00:00,2026-11-01 10:00:00,2026-11-02 10:00:00,2026-11-05 10:00:00,明前龙井,1,SKU-1, 天猫旗舰店\n" +
			"900002,tb_a,200.00,0.00,200.00,买家已付款，等待卖家发货,张三,浙江省 杭州市 西湖区 文三路 1 号,13912345678,2026-11-03 10:00:00,2026-11-03 10:00:00,,,安吉白茶,1,SKU-2,天猫旗舰店\n" +
			"900003,tb_a,100.00,0.00,100.00,交易成功,张三,浙江省 杭州市 西湖区 文三路 1 号,13912345678,2026-11-04 10:00:00,2026-11-04 10:00:00,,,红茶,1,SKU-3,天猫旗舰店\n"
		noShop := taobaoHeader + "\n" +
			"900005,tb_a,50.00,0.00,50.00,交易成功,张三,浙江省 杭州市 西湖区 文三路 1 号,13912345678,2026-11-06 10:00:00,2026-11-06 10:00:00,,,茶杯,1,SKU-5\n"
		for _, c := range []struct {
			body, shop string
		}{{file, ""}, {noShop, "旗舰店"}} {
			rep, err := f.s.Orders.Import(ctx, bytes.NewReader([]byte(c.body)), int64(len(c.body)), orders.ImportOptions{Shop: c.shop, Location: jst.Beijing})
			if err != nil || rep.RejectedRows != 0 {
				t.Fatalf("import: %v %+v", err, rep)
			}
		}
		count := func() int {
			var n int
			db.R.QueryRow(`SELECT COUNT(*) FROM orders`).Scan(&n)
			return n
		}
		before, err := f.s.Orders.FactsOf(ctx, cust)
		if err != nil || before.Orders != 4 || count() != 4 {
			t.Fatalf("after the files: %d orders, facts %+v %v", count(), before, err)
		}

		f.sb.AddOrder(jstOrder("900001", "Sent", "128.50", "2026-11-01 10:00:00", nil)) // shipped: behind the file's completed
		f.sb.AddOrder(jstOrder("900002", "Sent", "200.00", "2026-11-03 10:00:00", map[string]any{"send_date": "2026-11-04 10:00:00"}))
		f.sb.AddOrder(jstOrder("900003", "Sent", "120.00", "2026-11-04 10:00:00", nil)) // a different amount
		f.sb.AddOrder(jstOrder("900004", "Sent", "80.00", "2026-11-07 10:00:00", map[string]any{"receiver_mobile": "13700000000", "shop_buyer_id": "tb_b"}))
		f.sb.AddOrder(jstOrder("900005", "Sent", "50.00", "2026-11-06 10:00:00", map[string]any{"shop_id": 20, "shop_name": "TM旗舰", "shop_site": ""}))
		st := f.sandboxSettings()
		st.Shops = map[int64]string{20: "taobao:旗舰店"}
		if err := f.s.Save(ctx, st, "admin"); err != nil {
			t.Fatal(err)
		}
		run, err := f.s.Pull(ctx, "console", "admin")
		if err != nil {
			t.Fatal(err)
		}
		if r := run.Result; r.Orders != 5 || r.Unchanged != 2 || r.Updated != 1 || r.Conflicts != 1 || r.Inserted != 1 {
			t.Fatalf("pull %+v", r)
		}
		after, _ := f.s.Orders.FactsOf(ctx, cust)
		if count() != 5 || after.Orders != before.Orders || after.SpentTotal != before.SpentTotal || !after.LastOrderAt.Equal(before.LastOrderAt) {
			t.Fatalf("after the pull: %d orders, facts %+v, before %+v", count(), after, before)
		}
		var status, shop, source string
		db.R.QueryRow(`SELECT status, shop, source FROM orders WHERE order_no = '900002'`).Scan(&status, &shop, &source)
		if status != "shipped" || shop != "taobao:天猫旗舰店" || source != "import" {
			t.Fatalf("900002: %s %s %s", status, shop, source)
		}
		db.R.QueryRow(`SELECT status FROM orders WHERE order_no = '900001'`).Scan(&status)
		if status != "completed" {
			t.Fatalf("900001 moved back to %s", status)
		}

		// The file again, and the connector again: nothing changes.
		rep, err := f.s.Orders.Import(ctx, bytes.NewReader([]byte(file)), int64(len(file)), orders.ImportOptions{Location: jst.Beijing})
		if err != nil || rep.Inserted != 0 || rep.Updated != 0 {
			t.Fatalf("file again: %v %+v", err, rep)
		}
		f.clock.Add(time.Hour)
		f.sb.AddOrder(jstOrder("900001", "Sent", "128.50", "2026-11-01 10:00:00", map[string]any{"modified": "2026-11-30 12:30:00"}))
		f.sb.AddOrder(jstOrder("900002", "Sent", "200.00", "2026-11-03 10:00:00", map[string]any{"modified": "2026-11-30 12:30:00", "send_date": "2026-11-04 10:00:00"}))
		f.sb.AddOrder(jstOrder("900003", "Sent", "120.00", "2026-11-04 10:00:00", map[string]any{"modified": "2026-11-30 12:30:00"}))
		f.sb.AddOrder(jstOrder("900004", "Sent", "80.00", "2026-11-07 10:00:00", map[string]any{"modified": "2026-11-30 12:30:00", "receiver_mobile": "13700000000", "shop_buyer_id": "tb_b"}))
		f.sb.AddOrder(jstOrder("900005", "Sent", "50.00", "2026-11-06 10:00:00", map[string]any{"modified": "2026-11-30 12:30:00", "shop_id": 20, "shop_name": "TM旗舰", "shop_site": ""}))
		run, err = f.s.Pull(ctx, "console", "admin")
		if err != nil {
			t.Fatal(err)
		}
		if r := run.Result; r.Orders != 5 || r.Unchanged != 4 || r.Conflicts != 1 {
			t.Fatalf("pull again %+v", r)
		}
		again, _ := f.s.Orders.FactsOf(ctx, cust)
		if count() != 5 || again.Orders != before.Orders || again.SpentTotal != before.SpentTotal {
			t.Fatalf("after both again: %d orders, facts %+v", count(), again)
		}
		if !strings.HasPrefix(shopOf(t, db, "900004"), "taobao:") {
			t.Fatal("a new order of a known site gets the platform's key")
		}
	})
}

func shopOf(t *testing.T, db *store.DB, no string) string {
	t.Helper()
	var shop string
	if err := db.R.QueryRow(`SELECT shop FROM orders WHERE order_no = $1`, no).Scan(&shop); err != nil {
		t.Fatal(err)
	}
	return shop
}
