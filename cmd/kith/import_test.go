package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"
)

const importCSV = `订单编号,买家会员名,买家实际支付金额,订单状态,收货人姓名,联系手机,订单创建时间,宝贝标题,宝贝总数量
="9001",tb_a,129.00,交易成功,王小明,="13812341234",2026-11-01 10:00:00,龙井茶,1
="9002",tb_b,-3.00,交易成功,李四,,2026-11-02 10:00:00,白茶,1
="9003",tb_c,20.00,交易成功,张三,,2026-11-03 10:00:00,=cmd|' /C calc'!A0,1
="9004",tb_d,30.00,等待买家付款,赵六,,2026-11-04 10:00:00,红茶,2
`

func TestImportOrdersCommand(t *testing.T) {
	t.Parallel()
	env := kithEnv(t, "KITH_DATA_DIR", filepath.Join(t.TempDir(), "data"),
		"KITH_SESSION_KEY", newKey(), "KITH_FIELD_KEY", newKey(), "KITH_BLIND_INDEX_KEY", newKey())
	if r := runKith(t, env, "migrate"); r.code != 0 {
		t.Fatalf("kith migrate: %s", r)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "taobao.csv")
	data, _ := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(importCSV))
	os.WriteFile(file, data, 0o600)

	r := runKith(t, env, "import", "orders", file, "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "would import: 2 new orders") || !strings.Contains(r.stdout, "row 2") ||
		!strings.Contains(r.stdout, "138****1234") || !strings.Contains(r.stdout, "GB18030, mapping taobao") {
		t.Fatalf("dry run: %s", r)
	}
	errFile := filepath.Join(dir, "errors.csv")
	r = runKith(t, env, "import", "orders", "--errors", errFile, file)
	if r.code != 0 || !strings.Contains(r.stdout, "Imported: 2 new orders, 0 updated; 0 unchanged; 2 rows rejected") ||
		!strings.Contains(r.stdout, "negative_amount") || !strings.Contains(r.stdout, "formula") || !strings.Contains(r.stdout, "收货人姓名") {
		t.Fatalf("import: %s", r)
	}
	b, _ := os.ReadFile(errFile)
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || len(recs) != 3 || strings.Join(recs[0], ",") != "row,column,order_no,reason,message" || recs[2][3] != "formula" {
		t.Fatalf("error file (%v):\n%s", err, b)
	}
	for _, rec := range recs {
		for _, c := range rec {
			if c != "" && strings.ContainsRune("=+-@", rune(c[0])) {
				t.Fatalf("a cell of the error file would run as a formula: %q", c)
			}
		}
	}
	r = runKith(t, env, "import", "orders", file, "--json")
	var rep struct {
		Ins  int `json:"inserted"`
		Unch int `json:"unchanged"`
		Rows int `json:"rows"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rep) != nil || rep.Ins != 0 || rep.Unch != 2 || rep.Rows != 4 {
		t.Fatalf("re-import: %s", r)
	}
	r = runKith(t, env, "import", "orders")
	if r.code != 2 || !strings.Contains(r.stderr, "name the file") {
		t.Fatalf("no file: %s", r)
	}
	r = runKith(t, env, "import", "orders", file, "--mapping", "nope")
	if r.code != 1 || !strings.Contains(r.stderr, `no mapping "nope"`) {
		t.Fatalf("unknown mapping: %s", r)
	}
	r = runKith(t, env, "import", "orders", file, "--max-size", "0")
	if r.code != 2 || !strings.Contains(r.stderr, "--max-size") {
		t.Fatalf("bad max size: %s", r)
	}
	r = runKith(t, env, "import", "source", "add", "myshop")
	if r.code != 0 || !strings.Contains(r.stdout, "whsec_") || !strings.Contains(r.stdout, "/api/v1/orders/webhook/myshop") {
		t.Fatalf("source add: %s", r)
	}
	if r = runKith(t, env, "import", "source", "list"); r.code != 0 || r.stdout != "myshop\n" {
		t.Fatalf("source list: %s", r)
	}
}

func TestImportCategoriesCommand(t *testing.T) {
	t.Parallel()
	env := kithEnv(t, "KITH_DATA_DIR", filepath.Join(t.TempDir(), "data"),
		"KITH_SESSION_KEY", newKey(), "KITH_FIELD_KEY", newKey(), "KITH_BLIND_INDEX_KEY", newKey())
	if r := runKith(t, env, "migrate"); r.code != 0 {
		t.Fatalf("kith migrate: %s", r)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "catalogue.csv")
	data, _ := simplifiedchinese.GBK.NewEncoder().Bytes([]byte("商家编码,类目\nSKU-1,绿茶\nSKU-2,白茶\nSKU-3,\n"))
	os.WriteFile(file, data, 0o600)
	if r := runKith(t, env, "import", "categories", file); r.code != 0 || !strings.Contains(r.stdout, "Catalogue: 2 SKU codes in categories, 1 taken out.") {
		t.Fatalf("import categories: %s", r)
	}
	os.WriteFile(file, []byte("sku,category\nA,绿茶\nA,红茶\n"), 0o600)
	if r := runKith(t, env, "import", "categories", file); r.code != 2 || !strings.Contains(r.stderr, "row 3: SKU A") {
		t.Fatalf("a SKU in two categories: %s", r)
	}
	if r := runKith(t, env, "import", "categories"); r.code != 2 || !strings.Contains(r.stderr, "name the file") {
		t.Fatalf("no file: %s", r)
	}
}
