package web_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// upload posts a file to the import page as a browser's form would.
func (c *client) upload(name string, content []byte, shop string) (*http.Response, string) {
	c.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("shop", shop)
	if name != "" {
		fw, err := mw.CreateFormFile("file", name)
		if err != nil {
			c.t.Fatal(err)
		}
		fw.Write(content)
	}
	mw.Close()
	return c.do("POST", "/orders/import", &body, map[string]string{"Content-Type": mw.FormDataContentType(), "Accept-Language": "en"})
}

var uploadPathRe = regexp.MustCompile(`^/orders/import/([0-9a-f]{32})`)

// uploadOK uploads a file that must be taken and returns its id.
func (c *client) uploadOK(name string, content []byte, shop string) string {
	c.t.Helper()
	resp, body := c.upload(name, content, shop)
	m := uploadPathRe.FindStringSubmatch(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || m == nil {
		c.t.Fatalf("upload: %d %q\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	return m[1]
}

// waitImportRun polls a run's card as htmx does until it stops polling,
// and returns the last card.
func (c *client) waitImportRun(id, run string) string {
	c.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, body := c.do("GET", "/orders/import/"+id+"/progress?run="+run, nil, map[string]string{"HX-Request": "true", "Accept-Language": "en"})
		if resp.StatusCode != 200 {
			c.t.Fatalf("progress of %s: %d\n%s", run, resp.StatusCode, body)
		}
		if !strings.Contains(body, `hx-trigger="every 1s"`) {
			return body
		}
	}
	c.t.Fatalf("the %s run of %s did not finish within 30 s", run, id)
	return ""
}

// taobaoCSV is a Taobao-style export: five orders, one with a formula in
// its order number and one with a date that is none.
const taobaoCSV = "订单编号,买家会员名,买家实际支付金额,订单状态,订单创建时间,联系手机,收货地址,宝贝标题,宝贝总数量\n" +
	"T1001,buyer_a,128.00,交易成功,2026-11-01 10:00:00,13812341234,浙江省 杭州市 西湖区 文三路 1 号,龙井 250g,1\n" +
	"T1002,buyer_b,¥66.50,卖家已发货，等待买家确认,2026/11/02 11:30,13900000002,上海市 浦东新区 世纪大道 100 号,碧螺春,2\n" +
	"T1003,buyer_c,\"1,050.00\",买家已付款，等待卖家发货,2026-11-03 09:15:00,,,白茶礼盒,1\n" +
	"=cmd|' /C calc'!A0,buyer_d,10.00,交易成功,2026-11-04 10:00:00,,,红茶,1\n" +
	"T1005,buyer_e,20.00,交易成功,昨天,,,绿茶,1\n"

func TestOrdersImportRefusals(t *testing.T) {
	in := apptest.Start(t, apptest.Options{ImportMaxBytes: 2048})
	c := newClient(t, in)
	c.login("owner", apptest.OwnerPassword)
	page := c.get("/orders/import", 200)
	mustContain(t, "upload page", page, `id="import-form"`, `enctype="multipart/form-data"`, "at most 2 KB")

	for _, tc := range []struct {
		what, name string
		content    []byte
		status     int
		want       string
	}{
		{"a PDF", "orders.pdf", []byte("%PDF-1.4 ..."), 400, "orders.pdf is not a CSV or XLSX file"},
		{"an old workbook", "orders.xls", []byte("\xd0\xcf\x11\xe0"), 400, "old Excel workbook (.xls); save it as .xlsx or .csv"},
		{"binary content named .csv", "orders.csv", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), 400, "its content is binary"},
		{"too big", "big.csv", []byte("order_no,total,ordered_at\n" + strings.Repeat("A1,1.00,2026-01-01\n", 200)), 413, "big.csv is more than the 2 KB an import reads"},
		{"empty", "empty.csv", nil, 400, "empty.csv is empty"},
		{"blank lines only", "blank.csv", []byte("\n\n"), 400, "the file is empty"},
		{"no file", "", nil, 400, "Choose a CSV or XLSX file to upload."},
	} {
		resp, body := c.upload(tc.name, tc.content, "")
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.want) || !strings.Contains(body, `id="import-error"`) {
			t.Errorf("%s: %d, want %d with %q\n%s", tc.what, resp.StatusCode, tc.status, tc.want, body)
		}
	}
	// Nothing refused was kept.
	if entries, _ := os.ReadDir(filepath.Join(in.Config.DataDir, "imports")); len(entries) != 0 {
		t.Errorf("refused uploads left %d folders", len(entries))
	}

	// A header no preset knows: the mapping form, and a clear refusal of a
	// mapping that leaves a required field without a column.
	id := c.uploadOK("mine.csv", []byte("单号,金额,时间,手机\nA1,10.00,2026-11-01 10:00,\n"), "我的店")
	page = c.get("/orders/import/"+id, 200)
	mustContain(t, "unrecognised file", page, `id="mapping-none"`, `id="mapping-form"`, `<option value="单号">单号</option>`, "shop 我的店")
	mustNotContain(t, "unrecognised file", page, `id="import-dry"`)
	form := url.Values{"col.order_no": {"单号"}, "col.total": {"金额"}, "platform": {"mall"}}
	resp, body := c.form("/orders/import/"+id+"/mapping", form, en)
	if resp.StatusCode != 400 || !strings.Contains(body, "Choose the column of Ordered at (ordered_at): no order can be read without it.") {
		t.Fatalf("unmapped ordered_at: %d\n%s", resp.StatusCode, body)
	}
	// The form keeps what was chosen.
	mustContain(t, "refused mapping", body, `<option value="金额" selected>`, `value="mall"`)
	form.Set("col.ordered_at", "不存在")
	if resp, body = c.form("/orders/import/"+id+"/mapping", form, en); resp.StatusCode != 400 || !strings.Contains(body, "The file has no column") {
		t.Fatalf("a column the file lacks: %d\n%s", resp.StatusCode, body)
	}
	form.Set("col.ordered_at", "时间")
	form.Set("save_as", "taobao")
	if resp, body = c.form("/orders/import/"+id+"/mapping", form, en); resp.StatusCode != 409 || !strings.Contains(body, "is a built-in preset; choose another name") {
		t.Fatalf("saving under a preset's name: %d\n%s", resp.StatusCode, body)
	}
	form.Set("save_as", "my-shop")
	if resp, body = c.form("/orders/import/"+id+"/mapping", form, en); resp.StatusCode != 303 {
		t.Fatalf("mapping: %d\n%s", resp.StatusCode, body)
	}
	card := c.waitImportRun(id, "dry")
	mustContain(t, "dry run", card, "1 rows read. An import would add 1 new orders")
	// The remembered mapping reads the next file with that header.
	id2 := c.uploadOK("mine2.csv", []byte("单号,金额,时间\nA2,10.00,2026-11-02 10:00\n"), "")
	mustContain(t, "second file", c.get("/orders/import/"+id2, 200), "Read with the mapping my-shop.")

	// Unknown uploads and runs.
	c.get("/orders/import/0123456789abcdef0123456789abcdef", 404)
	c.get("/orders/import/..%2f..%2fetc", 404)
	c.get("/orders/import/"+id+"/progress?run=other", 400)
	c.get("/orders/import/"+id2+"/errors.csv?run=import", 404)
	if resp, _ := c.form("/orders/import/"+id+"/run", url.Values{}, en); resp.StatusCode != 303 {
		t.Errorf("import after a dry run: %d", resp.StatusCode)
	}
	c.waitImportRun(id, "import")

	// Roles without orders.import are refused every step; an operator may.
	for _, role := range []auth.Role{auth.RoleAgent, auth.RoleAuditor} {
		rc := signedIn(t, in, role)
		if resp, _ := rc.do("GET", "/orders/import", nil, nil); resp.StatusCode != 403 {
			t.Errorf("%s opens the import page: %d", role, resp.StatusCode)
		}
		if resp, _ := rc.upload("x.csv", []byte("order_no,total,ordered_at\nX,1,2026-01-01\n"), ""); resp.StatusCode != 403 {
			t.Errorf("%s uploads: %d", role, resp.StatusCode)
		}
		for _, p := range []string{"/orders/import/" + id, "/orders/import/" + id + "/errors.csv?run=dry", "/orders/import/" + id + "/progress?run=dry"} {
			if resp, _ := rc.do("GET", p, nil, nil); resp.StatusCode != 403 {
				t.Errorf("%s GET %s: %d", role, p, resp.StatusCode)
			}
		}
		if resp, _ := rc.form("/orders/import/"+id+"/run", url.Values{}, nil); resp.StatusCode != 403 {
			t.Errorf("%s starts an import: %d", role, resp.StatusCode)
		}
		if page := rc.get("/", 200); strings.Contains(page, `id="nav-import"`) {
			t.Errorf("%s sees the import in the menu", role)
		}
	}
	// The upload page lists the recent files with how far each is.
	c.waitImportRun(id2, "dry")
	page = c.get("/orders/import", 200)
	mustContain(t, "recent files", page, `id="import-recent"`, `id="recent-`+id+`"`, "mine.csv", "imported", `id="recent-`+id2+`"`, "checked, not imported")
	op := signedIn(t, in, auth.RoleOperator)
	if page := op.get("/orders/import", 200); !strings.Contains(page, `id="nav-import"`) {
		t.Error("the operator does not see the import in the menu")
	}
}

// TestOrdersImportDryRunAndImport runs on SQLite, and on PostgreSQL when
// KITH_TEST_DATABASE_URL is set (the job then goes through River's
// PostgreSQL driver on the node's own queue).
func TestOrdersImportDryRunAndImport(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { ordersImportDryRunAndImport(t, false) })
	if os.Getenv(storetest.EnvURL) != "" {
		t.Run("postgres", func(t *testing.T) { ordersImportDryRunAndImport(t, true) })
	}
}

func ordersImportDryRunAndImport(t *testing.T, postgres bool) {
	in := apptest.Start(t, apptest.Options{Postgres: postgres})
	db := mustStore(t, in)
	c := newClient(t, in)
	c.login("owner", apptest.OwnerPassword)
	id := c.uploadOK("淘宝订单.csv", []byte(taobaoCSV), "茶叶旗舰店")
	page := c.get("/orders/import/"+id, 200)
	mustContain(t, "uploaded file", page, "Recognised as the taobao preset.", `id="import-dry"`)

	card := c.waitImportRun(id, "dry")
	mustContain(t, "dry run", card,
		"5 rows read. An import would add 3 new orders, update 0 and leave 0 unchanged; 2 rows would be refused.",
		`id="import-dry-reason-formula"`, `id="import-dry-reason-bad_date"`, "T1001", "138****1234",
		"<td>订单创建时间</td>", "订单创建时间 is not a date and time (昨天)", `id="import-start"`, "Import 3 orders", "errors.csv?run=dry")
	mustNotContain(t, "dry run", card, "13812341234", "文三路")
	countOrders := func() int {
		var n int
		if err := db.R.QueryRow(`SELECT count(*) FROM orders`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := countOrders(); n != 0 {
		t.Fatalf("a dry run wrote %d orders", n)
	}
	// The error file: every problem, formulas neutralised.
	resp, csvBody := c.do("GET", "/orders/import/"+id+"/errors.csv?run=dry", nil, nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("error file: %d %v", resp.StatusCode, resp.Header)
	}
	mustContain(t, "error file", csvBody, "row,column,order_no,reason,message", `'=cmd|`, "bad_date")
	if strings.Contains(csvBody, ",=cmd") {
		t.Errorf("the error file holds a live formula:\n%s", csvBody)
	}

	if resp, body := c.form("/orders/import/"+id+"/run", url.Values{}, en); resp.StatusCode != 303 {
		t.Fatalf("start the import: %d\n%s", resp.StatusCode, body)
	}
	card = c.waitImportRun(id, "import")
	mustContain(t, "import", card, "5 rows read: 3 new orders imported, 0 updated, 0 unchanged; 2 rows refused.",
		`id="import-run-bar" max="100" value="100"`, "5 of 5 rows read", `id="import-run-reason-formula"`)
	if n := countOrders(); n != 3 {
		t.Fatalf("%d orders after the import, want 3", n)
	}
	var shop string
	db.R.QueryRow(`SELECT shop FROM orders WHERE order_no = 'T1001'`).Scan(&shop)
	if shop != "taobao:茶叶旗舰店" {
		t.Errorf("shop %q", shop)
	}
	var actor, detail string
	err := db.R.QueryRow(`SELECT actor, detail FROM audit_log WHERE action = 'pii.write' AND object_type = 'orders' AND actor_kind = 'user'`).Scan(&actor, &detail)
	if err != nil || actor != "owner" || !strings.Contains(detail, `"inserted":3`) || !strings.Contains(detail, "淘宝订单.csv") {
		t.Errorf("audit: %v %q %q", err, actor, detail)
	}

	// The same file again changes nothing.
	if resp, body := c.form("/orders/import/"+id+"/run", url.Values{}, en); resp.StatusCode != 303 {
		t.Fatalf("import again: %d\n%s", resp.StatusCode, body)
	}
	card = c.waitImportRun(id, "import")
	mustContain(t, "second import", card, "5 rows read: 0 new orders imported, 0 updated, 3 unchanged; 2 rows refused.")
	if n := countOrders(); n != 3 {
		t.Fatalf("%d orders after the second import", n)
	}
}
