package web_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/protect"
)

// taobaoWrongTotal is a Taobao-style export whose 总金额 column (which
// the preset reads as the amount paid when the file has no 买家实付金额)
// holds text; the amount paid is in 实付款. One row also has a formula for
// an item title. 13812341234 is customer wm002's number.
const taobaoWrongTotal = "订单编号,买家会员名,买家应付货款,总金额,实付款,订单状态,订单创建时间,联系手机,收货地址,宝贝标题,宝贝总数量\n" +
	"T2001,buyer_a,128.00,见明细,128.00,交易成功,2026-11-01 10:00:00,13812341234,浙江省 杭州市 西湖区 文三路 1 号,龙井 250g,1\n" +
	"T2002,buyer_a,66.50,见明细,66.50,卖家已发货，等待买家确认,2026-11-05 11:30:00,13812341234,浙江省 杭州市 西湖区 文三路 1 号,碧螺春,2\n" +
	"T2003,buyer_b,99.00,见明细,99.00,买家已付款，等待卖家发货,2026-11-06 09:15:00,13900000009,上海市 浦东新区 世纪大道 100 号,白茶,1\n" +
	"T2004,buyer_c,10.00,见明细,10.00,交易成功,2026-11-07 10:00:00,,,=HYPERLINK(\"http://x\"),1\n"

// TestBrowserOrdersImport is issue 8's "done when" in a browser: upload a
// Taobao-style file with errors, see the problems, fix the column mapped
// wrongly, import, watch the progress finish, and see the orders on the
// customer's page.
func TestBrowserOrdersImport(t *testing.T) {
	session, _ := newKeyB64()
	field, fieldKey := newKeyB64()
	blind, blindKey := newKeyB64()
	in := apptest.Start(t, apptest.Options{Env: map[string]string{"KITH_SESSION_KEY": session, "KITH_FIELD_KEY": field, "KITH_BLIND_INDEX_KEY": blind}})
	db := mustStore(t, in)
	seedDirectory(t, db, 3)
	p, err := protect.New(fieldKey, blindKey)
	if err != nil {
		t.Fatal(err)
	}
	phone, err := p.Seal(protect.FieldPhone, "13812341234")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = db.InTx(ctx, func(tx *sql.Tx) error {
		var id int64
		if err := tx.QueryRowContext(ctx, `SELECT id FROM customers WHERE external_userid = 'wm002'`).Scan(&id); err != nil {
			return err
		}
		return customer.ApplyFollow(ctx, tx, id, customer.Follow{MemberUserID: "wang", AddWay: 1, AddedAt: seedTime, Phones: []protect.Sealed{phone}}, seedTime)
	})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "淘宝订单导出.csv")
	if err := os.WriteFile(file, []byte(taobaoWrongTotal), 0o600); err != nil {
		t.Fatal(err)
	}

	b := browserStart(t, in.URL, "zh-CN")
	b.open("/login")
	b.signIn("owner", apptest.OwnerPassword)
	b.wantPath("/")
	b.click("nav-import")
	b.wantPath("/orders/import")
	if got := b.visible("page-title"); got != "导入订单" {
		t.Errorf("#page-title = %q", got)
	}
	b.do("choose the file", chromedp.SetUploadFiles(chromedp.ID("import-file"), []string{file}))
	b.click("import-submit")
	if u := b.location(); !regexp.MustCompile(`^/orders/import/[0-9a-f]{32}$`).MatchString(u.Path) {
		t.Fatalf("after the upload: %s", u)
	}
	if got := b.visible("mapping-name"); !strings.Contains(got, "taobao") {
		t.Errorf("#mapping-name = %q", got)
	}

	// The dry run finds every row's amount unreadable in 总金额, and the
	// formula.
	b.waitFor("the dry run", `document.getElementById("import-dry-summary") ? "ok" : document.getElementById("import-dry").innerText`)
	if got := b.visible("import-dry-summary"); !strings.Contains(got, "读取 4 行") || !strings.Contains(got, "4 行将被拒绝") {
		t.Errorf("#import-dry-summary = %q", got)
	}
	problems := b.visible("import-dry-problems")
	for _, want := range []string{"总金额", "总金额 is not an amount (见明细)", "T2001", "电子表格公式"} {
		if !strings.Contains(problems, want) {
			t.Errorf("#import-dry-problems lacks %q:\n%s", want, problems)
		}
	}
	b.absent("import-start") // nothing to import yet
	b.visible("import-dry-errors")
	b.screenshot("orders-import-dry-run")

	// Fix the mapping: the amount paid is in 实付款.
	b.click2("mapping-toggle")
	b.eval(`(() => { document.getElementById("col-total").value = "实付款"; return ""; })()`)
	b.typeInto("mapping-saveas", "taobao-shifu")
	b.click("mapping-submit")
	if got := b.visible("mapping-name"); !strings.Contains(got, "taobao-shifu") {
		t.Errorf("#mapping-name after the fix = %q", got)
	}
	b.waitFor("the second dry run", `document.getElementById("import-dry-summary") ? "ok" : document.getElementById("import-dry").innerText`)
	if got := b.visible("import-dry-summary"); !strings.Contains(got, "新增 3 个订单") || !strings.Contains(got, "1 行将被拒绝") {
		t.Errorf("#import-dry-summary after the fix = %q", got)
	}
	if got := b.visible("import-dry-problems"); strings.Contains(got, "总金额") || !strings.Contains(got, "T2004") {
		t.Errorf("#import-dry-problems after the fix:\n%s", got)
	}

	// Import, and watch the progress finish.
	if got := b.visible("import-start"); got != "导入 3 个订单" {
		t.Errorf("#import-start = %q", got)
	}
	b.click("import-start")
	b.visible("import-run")
	b.waitFor("the import", `document.getElementById("import-run-summary") ? "ok" : document.getElementById("import-run").innerText`)
	if got := b.eval(`String(document.getElementById("import-run-bar").value)`); got != "100" {
		t.Errorf("progress bar at %s", got)
	}
	if got := b.visible("import-run-summary"); !strings.Contains(got, "新导入 3 个订单") || !strings.Contains(got, "拒绝 1 行") {
		t.Errorf("#import-run-summary = %q", got)
	}
	if got := b.visible("import-run-rows"); got != "已读取 4 / 4 行" {
		t.Errorf("#import-run-rows = %q", got)
	}
	b.visible("import-run-reason-formula")
	b.screenshot("orders-import-done")

	// The customer whose number the orders carry shows them in its timeline.
	b.open("/customers/wm002")
	list := b.visible("orders-list")
	for _, want := range []string{"T2001", "T2002", "128.00", "138****1234"} {
		if !strings.Contains(list, want) {
			t.Errorf("#orders-list lacks %q:\n%s", want, list)
		}
	}
	if strings.Contains(list, "T2003") {
		t.Error("another customer's order is on wm002's page")
	}
}

// click2 clicks an element that opens something on the same page (a
// details summary), without waiting for a new page.
func (b *browser) click2(id string) {
	b.t.Helper()
	b.do("click #"+id, chromedp.Click(chromedp.ID(id)))
}
