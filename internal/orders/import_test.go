package orders_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/orders"
	"github.com/kith-scrm/kith/internal/orders/orderstest"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// taobaoCSV is a Taobao order export with good rows and one of each kind
// of bad row, as the store writes it (="…" around numbers).
const taobaoCSV = `订单编号,买家会员名,买家支付宝账号,买家应付货款,买家应付邮费,买家实际支付金额,订单状态,买家留言,收货人姓名,收货地址 ,联系电话 ,联系手机,订单创建时间,订单付款时间,宝贝标题,宝贝总数量,店铺名称
="100001",tb_alice,alice@example.com,129.00,0.00,129.00,交易成功,请尽快发货,王小明,浙江省 杭州市 西湖区 文三路 1 号,,="13812341234",2026-11-01 10:00:00,2026-11-01 10:01:00,龙井茶,1,茶庄
="100002",tb_bob,bob@example.com,"1,000.50",10.00,"1,010.50",卖家已发货，等待买家确认,,李四,上海 上海市 浦东新区 世纪大道 2 号,,138****0000,2026/11/02 09:30,2026/11/02 09:31,白茶,2,茶庄
="100003",tb_carol,,50.00,0.00,50.00,等待买家付款,,张三,,,,2026年11月03日 08:00:00,,红茶,1,茶庄
="100004",tb_dave,,-5.00,0.00,-5.00,交易成功,,赵六,,,,2026-11-04 10:00:00,,绿茶,1,茶庄
="100005",tb_eve,,99999999.00,0.00,99999999.00,交易成功,,钱七,,,,2026-11-05 10:00:00,,普洱,1,茶庄
="100006",tb_frank,,10.00,0.00,10.00,交易成功,,孙八,,,,昨天,,花茶,1,茶庄
="100007",tb_gina,,10.00,0.00,10.00,交易成功,,周九,,,,2026-11-07 10:00:00,,"=HYPERLINK(""http://x"",""点我"")",1,茶庄
="100008",tb_hank,,10.00,0.00,10.00,神秘状态,,吴十,,,,2026-11-08 10:00:00,,乌龙,1,茶庄
1.00009E+17,tb_ivan,,10.00,0.00,10.00,交易成功,,郑一,,,,2026-11-09 10:00:00,,黑茶,1,茶庄
="100001",tb_alice,alice@example.com,129.00,0.00,999.00,交易成功,,王小明,,,,2026-11-01 10:00:00,,龙井茶,1,茶庄
="100010",tb_alice,,20.00,0.00,20.00,交易关闭,,王小明,,,,2026-11-10 10:00:00,2026-11-10 10:01:00,黄茶,1,茶庄
`

func gbk(t testing.TB, s string) []byte {
	t.Helper()
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func importBytes(t *testing.T, f *fixture, data []byte, opt orders.ImportOptions) *orders.Report {
	t.Helper()
	rep, err := f.s.Import(context.Background(), bytes.NewReader(data), int64(len(data)), opt)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestImportTaobaoGBKFile(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		cust := f.addCustomer(t, "wmALICE", "", "13812341234")
		data := gbk(t, taobaoCSV)

		dry := importBytes(t, f, data, orders.ImportOptions{DryRun: true})
		var n int
		db.R.QueryRow(`SELECT count(*) FROM orders`).Scan(&n)
		if n != 0 || dry.Inserted != 4 || !dry.DryRun {
			t.Fatalf("dry run wrote %d orders; report %+v", n, dry)
		}
		rep := importBytes(t, f, data, orders.ImportOptions{})
		if rep.Mapping != "taobao" || rep.Encoding != orders.EncGB18030 || rep.Rows != 11 || rep.Inserted != 4 || rep.RejectedRows != 7 {
			t.Fatalf("report %+v", rep)
		}
		wantReasons := map[string]int{orders.ReasonNegative: 1, orders.ReasonAbsurd: 1, orders.ReasonDate: 1, orders.ReasonFormula: 1,
			orders.ReasonStatus: 1, orders.ReasonExcelNumber: 1, orders.ReasonDuplicate: 1}
		if !maps.Equal(rep.Rejected, wantReasons) {
			t.Fatalf("rejected %v, want %v", rep.Rejected, wantReasons)
		}
		byRow := map[int]orders.RowError{}
		for _, e := range rep.Errors {
			byRow[e.Row] = e
		}
		for row, want := range map[int]string{5: "买家实际支付金额", 7: "订单创建时间", 8: "宝贝标题", 9: "订单状态", 10: "订单编号", 11: "订单编号"} {
			if byRow[row].Column != want {
				t.Errorf("row %d: error %+v, want column %s", row, byRow[row], want)
			}
		}
		if !strings.Contains(byRow[11].Message, "row 2") {
			t.Errorf("duplicate message %q", byRow[11].Message)
		}
		// Columns with no purpose are not read: buyer message, receiver
		// name, Alipay account, landline.
		for _, c := range []string{"买家留言", "收货人姓名", "买家支付宝账号", "联系电话"} {
			if !slices.ContainsFunc(rep.NotRead, func(s string) bool { return strings.TrimSpace(s) == c }) {
				t.Errorf("%s read: not-read columns %v", c, rep.NotRead)
			}
		}
		var status, shop string
		var total, refund, freight int64
		var at time.Time
		db.R.QueryRow(`SELECT status, shop, total_fen, refund_fen, freight_fen, ordered_at FROM orders WHERE order_no = '100002'`).Scan(&status, &shop, &total, &refund, &freight, &at)
		if status != "shipped" || shop != "taobao:茶庄" || total != 101_050 || freight != 1_000 || !at.Equal(time.Date(2026, 11, 2, 1, 30, 0, 0, time.UTC)) {
			t.Fatalf("100002: %s %s %d %d %v", status, shop, total, freight, at)
		}
		db.R.QueryRow(`SELECT status, total_fen, refund_fen FROM orders WHERE order_no = '100010'`).Scan(&status, &total, &refund)
		if status != "cancelled" {
			t.Fatalf("100010: %s", status)
		}
		// Alice's order joined her by phone; her other order by account.
		if fa := f.facts(t, cust); fa.Orders != 1 || fa.SpentTotal != 12_900 {
			t.Fatalf("facts %+v", fa)
		}
		if rows, _ := f.s.OrdersOf(context.Background(), cust, 10); len(rows) != 2 {
			t.Fatalf("alice has %d orders", len(rows))
		}

		again := importBytes(t, f, data, orders.ImportOptions{})
		if again.Inserted != 0 || again.Updated != 0 || again.Unchanged != 4 || again.RejectedRows != 7 {
			t.Fatalf("re-import %+v", again)
		}
		// A later export where an order moved on updates it; one with a
		// different amount is refused, not overwritten.
		later := strings.Replace(taobaoCSV, "卖家已发货，等待买家确认", "交易成功", 1)
		later = strings.Replace(later, `="100003",tb_carol,,50.00,0.00,50.00`, `="100003",tb_carol,,50.00,0.00,60.00`, 1)
		rep3 := importBytes(t, f, gbk(t, later), orders.ImportOptions{})
		if rep3.Updated != 1 || rep3.Rejected[orders.ReasonConflict] != 1 {
			t.Fatalf("later export %+v", rep3)
		}
	})
}

func TestImportGroupsLinesAndRefusesWholeOrders(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		csv := "\ufeff主订单编号,子订单编号,选购商品,商家编码,商品数量,商品金额,订单应付金额,订单提交时间,订单状态,收件人手机号,省,市,区,详细地址\n" +
			"\t6901,\t6901-1,保温杯,CUP-1,2,\t30.00,\t60.00,2026-11-20 12:00:00,已完成,\t13900001111,广东省,深圳市,南山区,科技园 1 号\n" +
			"\t6901,\t6901-2,杯套,CUP-2,1,10.00,10.00,2026-11-20 12:00:00,已完成,13900001111,广东省,深圳市,南山区,科技园 1 号\n" +
			"6902,6902-1,水壶,POT-1,1,50.00,50.00,2026-11-21 12:00:00,已完成,,,,,\n" +
			"6902,6902-2,壶盖,POT-2,abc,5.00,5.00,2026-11-21 12:00:00,已完成,,,,,\n"
		rep := importBytes(t, f, []byte(csv), orders.ImportOptions{Shop: "抖店一号"})
		if rep.Mapping != "douyin" || rep.Encoding != orders.EncUTF8 || rep.Inserted != 1 || rep.RejectedRows != 2 || rep.Rejected[orders.ReasonNumber] != 1 {
			t.Fatalf("report %+v", rep)
		}
		var total int64
		var shop, addr string
		db.R.QueryRow(`SELECT total_fen, shop, address_sealed FROM orders WHERE order_no = '6901'`).Scan(&total, &shop, &addr)
		var items int
		db.R.QueryRow(`SELECT count(*) FROM order_items`).Scan(&items)
		if total != 7_000 || shop != "douyin:抖店一号" || items != 2 || addr == "" {
			t.Fatalf("6901: total %d shop %s items %d", total, shop, items)
		}
		if rep.Sample[0].Address != "广东省 深圳市****" || rep.Sample[0].Phone != "139****1111" {
			t.Fatalf("sample %+v", rep.Sample[0])
		}
	})
}

// xlsxFile builds a minimal workbook: shared and inline strings, and a
// date as a serial day number.
func xlsxFile(t testing.TB, rows [][]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	put := func(name, body string) {
		w, _ := zw.Create(name)
		w.Write([]byte(body))
	}
	put("[Content_Types].xml", `<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`)
	put("xl/workbook.xml", `<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="订单" sheetId="1" r:id="rId1"/></sheets></workbook>`)
	put("xl/_rels/workbook.xml.rels", `<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="worksheet" Target="worksheets/sheet1.xml"/></Relationships>`)
	var shared []string
	var sheet strings.Builder
	sheet.WriteString(`<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`)
	for i, r := range rows {
		fmt.Fprintf(&sheet, `<row r="%d">`, i+1)
		for j, c := range r {
			ref := fmt.Sprintf("%c%d", 'A'+j, i+1)
			switch {
			case c == "":
			case strings.HasPrefix(c, "#"): // a number cell
				fmt.Fprintf(&sheet, `<c r="%s"><v>%s</v></c>`, ref, c[1:])
			case j%2 == 0:
				fmt.Fprintf(&sheet, `<c r="%s" t="s"><v>%d</v></c>`, ref, len(shared))
				shared = append(shared, c)
			default:
				fmt.Fprintf(&sheet, `<c r="%s" t="inlineStr"><is><t>%s</t></is></c>`, ref, c)
			}
		}
		sheet.WriteString(`</row>`)
	}
	sheet.WriteString(`</sheetData></worksheet>`)
	put("xl/worksheets/sheet1.xml", sheet.String())
	var ss strings.Builder
	ss.WriteString(`<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">`)
	for _, s := range shared {
		fmt.Fprintf(&ss, `<si><r><t>%s</t></r><rPh><t>ignored</t></rPh></si>`, s)
	}
	ss.WriteString(`</sst>`)
	put("xl/sharedStrings.xml", ss.String())
	zw.Close()
	return buf.Bytes()
}

func TestImportXLSX(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		data := xlsxFile(t, [][]string{
			{"订单号", "下单帐号", "京东价", "应付金额", "下单时间", "订单状态", "商品名称", "订购数量", "货号"},
			{"J1", "jd_pin_1", "#25", "#50", "#46336.5", "完成", "坚果", "#2", "NUT-1"},
			{"J2", "jd_pin_2", "#25", "#25", "2026-11-02 08:00:00", "等待出库", "", "", ""},
		})
		rep := importBytes(t, f, data, orders.ImportOptions{Shop: "京东自营"})
		if rep.Format != "xlsx" || rep.Mapping != "jd" || rep.Inserted != 2 || rep.RejectedRows != 0 {
			t.Fatalf("report %+v", rep)
		}
		var at time.Time
		var status string
		var price int64
		db.R.QueryRow(`SELECT o.ordered_at, o.status, i.price_fen FROM orders o JOIN order_items i ON i.order_id = o.id WHERE o.order_no = 'J1'`).Scan(&at, &status, &price)
		// Serial 46336.5 is 2026-11-10 12:00 in the instance's zone.
		if !at.Equal(time.Date(2026, 11, 10, 4, 0, 0, 0, time.UTC)) || status != "completed" || price != 2_500 {
			t.Fatalf("J1 %v %s %d", at, status, price)
		}
	})
}

func TestImportRefusesWholeFiles(t *testing.T) {
	db := storetest.MustSQLite(t)
	f := newFixture(t, db)
	ctx := context.Background()
	data := []byte(taobaoCSV)
	cases := map[string]struct {
		data []byte
		opt  orders.ImportOptions
	}{
		"more than the 1 KB": {data, orders.ImportOptions{MaxBytes: 1024}},
		"matches no preset":  {[]byte("a,b,c\n1,2,3\n"), orders.ImportOptions{}},
		"is empty":           {nil, orders.ImportOptions{}},
		"longer than":        {append([]byte("订单编号,买家实付金额,订单创建时间\n"), bytes.Repeat([]byte("x"), 2<<20)...), orders.ImportOptions{}},
		"no column for":      {[]byte("订单编号,买家实付金额\n1,2\n"), orders.ImportOptions{}},
		"cannot be opened":   {[]byte("PK\x03\x04garbage"), orders.ImportOptions{}},
		"has no xl/workbook": {zipOf(t, "hello.txt", "hi"), orders.ImportOptions{}},
		"beyond the last":    {badColumnXLSX(t), orders.ImportOptions{}},
	}
	for want, c := range cases {
		_, err := f.s.Import(ctx, bytes.NewReader(c.data), int64(len(c.data)), c.opt)
		if kith.ErrorCode(err) != kith.EINVALID || !strings.Contains(kith.ErrorMessage(err), want) {
			t.Errorf("%s: %v", want, err)
		}
	}
	var n int
	db.R.QueryRow(`SELECT count(*) FROM orders`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d orders written", n)
	}
	// A cancelled import writes nothing either.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := f.s.Import(cctx, bytes.NewReader(data), int64(len(data)), orders.ImportOptions{}); err == nil {
		t.Fatal("a cancelled import succeeded")
	}
}

func zipOf(t testing.TB, name, body string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create(name)
	w.Write([]byte(body))
	zw.Close()
	return buf.Bytes()
}

func badColumnXLSX(t testing.TB) []byte {
	data := xlsxFile(t, [][]string{{"order_no", "total", "ordered_at"}})
	zr, _ := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		w, _ := zw.Create(f.Name)
		if f.Name == "xl/worksheets/sheet1.xml" {
			w.Write([]byte(`<worksheet><sheetData><row r="1"><c r="ZZZZ1" t="inlineStr"><is><t>x</t></is></c></row></sheetData></worksheet>`))
			continue
		}
		rc, _ := f.Open()
		b := new(bytes.Buffer)
		b.ReadFrom(rc)
		w.Write(b.Bytes())
	}
	zw.Close()
	return buf.Bytes()
}

func TestCustomMappings(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		if _, err := orders.ParseColumns("mine", "shop", "order_no=单号,bogus=x"); kith.ErrorCode(err) != kith.EINVALID {
			t.Fatalf("bogus field: %v", err)
		}
		if _, err := orders.ParseColumns("mine", "shop", "order_no=单号"); kith.ErrorCode(err) != kith.EINVALID {
			t.Fatalf("missing total: %v", err)
		}
		m, err := orders.ParseColumns("mine", "own", "order_no=单号,total=实付|金额,ordered_at=下单时间,phone=手机")
		if err != nil {
			t.Fatal(err)
		}
		if err := f.s.SaveMapping(ctx, orders.Mapping{Name: "taobao", Platform: "x", Columns: m.Columns}); kith.ErrorCode(err) != kith.ECONFLICT {
			t.Fatalf("preset name taken: %v", err)
		}
		if err := f.s.SaveMapping(ctx, m); err != nil {
			t.Fatal(err)
		}
		got, err := f.s.Mapping(ctx, "mine")
		if err != nil || got.Platform != "own" || !slices.Equal(got.Columns[orders.FTotal], []string{"实付", "金额"}) {
			t.Fatalf("mapping %+v %v", got, err)
		}
		if _, err := f.s.Mapping(ctx, "nope"); kith.ErrorCode(err) != kith.ENOTFOUND {
			t.Fatalf("unknown mapping: %v", err)
		}
		rep := importBytes(t, f, []byte("单号\t金额\t下单时间\n A-1 \t12.5\t2026-11-01\n"), orders.ImportOptions{Mapping: &got})
		if rep.Inserted != 1 {
			t.Fatalf("report %+v", rep)
		}
		var shop string
		db.R.QueryRow(`SELECT shop FROM orders WHERE order_no = 'A-1'`).Scan(&shop)
		if shop != "own:default" {
			t.Fatalf("shop %q", shop)
		}
	})
}

func TestImportProgress(t *testing.T) {
	f := newFixture(t, storetest.MustSQLite(t))
	var b strings.Builder
	b.WriteString("order_no,total,ordered_at\n")
	for i := range 25_000 {
		fmt.Fprintf(&b, "N%d,1.00,2026-11-01 10:00:00\n", i)
	}
	var calls []orders.Progress
	rep := importBytes(t, f, []byte(b.String()), orders.ImportOptions{Progress: func(p orders.Progress) { calls = append(calls, p) }})
	if rep.Inserted != 25_000 || len(calls) != 3 || calls[0].Rows != 10_000 || calls[2].Rows != 25_000 || calls[2].Bytes != int64(b.Len()) || calls[2].Total != int64(b.Len()) {
		t.Fatalf("inserted %d, progress %+v", rep.Inserted, calls)
	}
}

func TestImportCancelledMidwayWritesNothing(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		var file bytes.Buffer
		if err := orderstest.WriteTaobaoCSV(&file, 25_000, 7, now); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		calls := 0
		_, err := f.s.Import(ctx, bytes.NewReader(file.Bytes()), int64(file.Len()), orders.ImportOptions{Progress: func(p orders.Progress) {
			if calls++; p.Rows == 10_000 {
				cancel() // 10,000 orders are written in the transaction by now
			}
		}})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("import cancelled after 10,000 rows: %v", err)
		}
		var n int
		if err := db.R.QueryRow(`SELECT (SELECT count(*) FROM orders) + (SELECT count(*) FROM shop_identities)`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d orders and identities written (%v)", n, err)
		}
	})
}

// TestImportMixesKnownAndNewIdentities imports a file whose buyers are
// partly known (linked to a customer by an earlier order), partly new,
// after the Writer has settled on trying inserts first.
func TestImportMixesKnownAndNewIdentities(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		cust := f.addCustomer(t, "wmK", "")
		first := order("K0", 1_000, now.Add(-day))
		first.BuyerAccount, first.ExternalUserID = "tb_known", "wmK"
		f.put(t, first)
		var os []orders.Order
		for i := range 20 {
			o := order(fmt.Sprintf("K%d", i+1), 1_000, now)
			o.BuyerAccount = fmt.Sprintf("tb_new_%d", i)
			if i >= 10 && i%2 == 0 {
				o.BuyerAccount = "tb_known" // no other link than the identity
			}
			os = append(os, o)
		}
		f.put(t, os...)
		if fa := f.facts(t, cust); fa.Orders != 1+5 {
			t.Fatalf("the known buyer's orders did not join its customer: %+v", fa)
		}
		var idents int
		if err := db.R.QueryRowContext(ctx, `SELECT count(*) FROM shop_identities`).Scan(&idents); err != nil || idents != 1+15 {
			t.Fatalf("%d identities (%v), want 16", idents, err)
		}
	})
}
