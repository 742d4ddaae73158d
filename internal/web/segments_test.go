package web_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/kith"
)

// htmx asks for the part of a page an element replaces.
func htmx(target string) map[string]string {
	return map[string]string{"HX-Request": "true", "HX-Target": target, "Accept-Language": "en"}
}

var countRe = regexp.MustCompile(`id="segment-count">([0-9,]+)<`)

func countOf(t *testing.T, body string) string {
	t.Helper()
	m := countRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no count in %s", body)
	}
	return m[1]
}

func TestSegmentBuilder(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	db := mustStore(t, in)
	seedDirectory(t, db, 30) // VIP: every third (10); li follows 10, 20, 30 with 门店
	op := signedIn(t, in, auth.RoleOperator)

	preview := func(expr string) string {
		_, body := op.do("GET", "/segments/preview?expr="+url.QueryEscape(expr), nil, htmx("segment-preview"))
		return body
	}
	// The index tails the seed within a second; until then the database
	// answers the same. Wait for the index, then check both agree.
	deadline := time.Now().Add(10 * time.Second)
	for body := preview("tag:VIP"); !strings.Contains(body, "counted by the index") || countOf(t, body) != "10"; body = preview("tag:VIP") {
		if time.Now().After(deadline) {
			t.Fatalf("the index did not answer: %s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}

	body := op.get("/segments", 200)
	mustContain(t, "builder", body, `id="expr"`, `hx-get="/segments/preview"`, `id="segment-terms"`, `hx-get="/segments?add=tag:VIP"`,
		`hx-get="/segments?add=member:li"`, `id="segment-save"`, `id="nav-segments" aria-current="page"`, "Index: 30 customers")
	for expr, want := range map[string]string{
		"tag:VIP":                         "10",
		"tag:VIP and member:li":           "1",
		"tag:VIP or tag:门店":               "12",
		"not tag:VIP":                     "20",
		"group:来源 and not member:li":      "0",
		"member:wang and reachable:wecom": "0",
	} {
		if got := countOf(t, preview(expr)); got != want {
			t.Errorf("%s: %s customers, want %s", expr, got, want)
		}
	}
	body = preview("TAG:VIP  AND (member:li)")
	mustContain(t, "canonical", body, `id="segment-canonical">tag:VIP and member:li<`)

	// Mistakes point at their column, with a caret under it; unknown names
	// get the closest one.
	body = preview("tag:VIP and ordrs >= 3")
	mustContain(t, "bad field", body, `id="segment-error"`, "Column 13:", "id=\"segment-caret\">tag:VIP and ordrs &gt;= 3\n            ^</pre>")
	mustContain(t, "unknown tag", preview("tag:VIPP"), "VIP")
	mustContain(t, "type mismatch", preview(`spent_90d >= "abc"`), `id="segment-error"`)
	mustContain(t, "empty", preview("   "), `id="segment-hint"`)
	mustNotContain(t, "no count on a mistake", preview("tag:"), `id="segment-count"`)

	// A clicked term is added with and; the builder comes back whole.
	_, body = op.do("GET", "/segments?expr="+url.QueryEscape("tag:VIP")+"&add="+url.QueryEscape("member:li"), nil, htmx("segment-builder"))
	mustContain(t, "added term", body, ">tag:VIP and member:li</textarea>", `id="segment-count">1<`, `id="segment-save"`)
	mustNotContain(t, "fragment only", body, "<html")

	// A sample shows customers and is recorded.
	_, body = op.do("GET", "/segments/sample?expr="+url.QueryEscape("tag:VIP and member:li"), nil, htmx("segment-preview"))
	mustContain(t, "sample", body, `id="segment-sample"`, "客户030", `href="/customers/wm030"`)
	log := audit.New(db, kith.SystemClock{})
	reads := entriesOf(t, log, audit.ActionPIIRead)
	if len(reads) == 0 || reads[0].ObjectType != "segment" || !strings.Contains(reads[0].Detail, `"expression":"tag:VIP and member:li"`) {
		t.Fatalf("sample not audited: %+v", reads)
	}

	// Save, refuse a taken name and a bad expression, change, delete.
	resp, _ := op.form("/segments", url.Values{"name": {"李雷的VIP"}, "description": {"双11"}, "expr": {"member:li  and tag:VIP"}}, en)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 303 || !strings.HasSuffix(loc, "?done=saved") {
		t.Fatalf("save: %d %s", resp.StatusCode, loc)
	}
	page := strings.TrimSuffix(loc, "?done=saved")
	body = op.get(loc, 200)
	mustContain(t, "saved page", body, `id="segment-done"`, `id="segment-expression">member:li and tag:VIP<`, `id="segment-count">1<`, "双11")
	resp, body = op.form("/segments", url.Values{"name": {"李雷的VIP"}, "expr": {"tag:VIP"}}, en)
	if resp.StatusCode != 409 || !strings.Contains(body, "already exists") || !strings.Contains(body, ">tag:VIP</textarea>") {
		t.Fatalf("taken name: %d", resp.StatusCode)
	}
	resp, body = op.form("/segments", url.Values{"name": {"x"}, "expr": {"tag:VIP and ("}}, en)
	if resp.StatusCode != 400 || !strings.Contains(body, `id="segment-save-error"`) {
		t.Fatalf("bad expression: %d", resp.StatusCode)
	}
	resp, _ = op.form(page, url.Values{"name": {"李雷的客户"}, "expr": {"member:li"}}, en)
	if resp.StatusCode != 303 || !strings.HasSuffix(resp.Header.Get("Location"), "?done=updated") {
		t.Fatalf("update: %d", resp.StatusCode)
	}
	mustContain(t, "updated", op.get(page, 200), `id="segment-count">3<`, "李雷的客户")
	mustContain(t, "list", op.get("/segments", 200), `id="segment-list"`, "李雷的客户", "member:li")
	if resp, _ := op.form(page+"/delete", url.Values{}, en); resp.StatusCode != 400 {
		t.Fatalf("delete without confirmation: %d", resp.StatusCode)
	}
	if resp, _ := op.form(page+"/delete", url.Values{"confirm": {"yes"}}, en); resp.StatusCode != 303 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	op.get(page, 404)
	if changes := entriesOf(t, log, audit.ActionSegmentChange); len(changes) != 3 {
		t.Fatalf("segment.change entries: %+v", changes)
	}

	// Agents count and look; they do not save. Auditors see no customers.
	agent := signedIn(t, in, auth.RoleAgent)
	agent.get("/segments", 200)
	if resp, _ := agent.form("/segments", url.Values{"name": {"a"}, "expr": {"tag:VIP"}}, en); resp.StatusCode != 403 {
		t.Fatalf("agent save: %d", resp.StatusCode)
	}
	signedIn(t, in, auth.RoleAuditor).get("/segments", 403)

	// A change reaches the count within a second or so (the index tails
	// the change sequence).
	err := db.InTx(context.Background(), func(tx *sql.Tx) error {
		id, err := customer.ApplyCustomer(context.Background(), tx, customer.Customer{ExternalUserID: "wm900", Name: "新客户", Type: 1}, seedTime)
		if err != nil {
			return err
		}
		return customer.ApplyFollow(context.Background(), tx, id, customer.Follow{MemberUserID: "li", TagIDs: []string{"tag-vip"}, AddedAt: seedTime}, seedTime)
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for countOf(t, preview("tag:VIP and member:li")) != "2" {
		if time.Now().After(deadline) {
			t.Fatal("the new customer did not reach the index")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The API counts too.
	_, token, err := in.Auth(t).CreateToken(context.Background(), "seg", auth.RoleOperator)
	if err != nil {
		t.Fatal(err)
	}
	hdr := map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}
	resp, body = op.do("POST", "/api/v1/segments/count", strings.NewReader(`{"expression": "tag:VIP"}`), hdr)
	var got struct {
		Count      int    `json:"count"`
		Expression string `json:"expression"`
		CountedBy  string `json:"counted_by"`
	}
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &got) != nil || got.Count != 11 || got.CountedBy != "index" || got.Expression != "tag:VIP" {
		t.Fatalf("API count: %d %s", resp.StatusCode, body)
	}
	resp, body = op.do("POST", "/api/v1/segments/count", strings.NewReader(`{"expression": "tag:VIP and"}`), hdr)
	if resp.StatusCode != 400 || !strings.Contains(body, "column") {
		t.Fatalf("API bad expression: %d %s", resp.StatusCode, body)
	}
	resp, body = op.do("GET", "/api/v1/segments", nil, hdr)
	if resp.StatusCode != 200 || !strings.Contains(body, `"segments": []`) {
		t.Fatalf("API list: %d %s", resp.StatusCode, body)
	}

	// The index's state is on /readyz and /metrics.
	_, body = op.do("GET", "/readyz", nil, nil)
	mustContain(t, "readyz", body, `"segment_index": "ready"`)
	_, metricsToken, err := in.Auth(t).CreateToken(context.Background(), "prom", auth.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	_, body = op.do("GET", "/metrics", nil, map[string]string{"Authorization": "Bearer " + metricsToken})
	mustContain(t, "metrics", body, "kith_segment_index_ready 1", "kith_segment_index_customers 31", "kith_segment_index_builds_total 1")
}
