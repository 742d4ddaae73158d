package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/auth"
)

func TestCustomerListPagesSearchesAndFilters(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	seedDirectory(t, mustStore(t, in), 120)
	c := signedIn(t, in, auth.RoleAgent)

	// Three pages of 50, 50 and 20, newest first, each customer once.
	body := c.get("/customers", 200)
	mustContain(t, "customers page", body, "120 customers in all", `id="customer-q"`, `hx-trigger="keyup changed delay:300ms, search"`)
	seen := map[string]bool{}
	var sizes []int
	for page, path := 0, "/customers"; path != ""; page++ {
		if page > 3 {
			t.Fatal("more than three pages")
		}
		body := c.get(path, 200)
		rows := customerRows(body)
		sizes = append(sizes, len(rows))
		for _, id := range rows {
			if seen[id] {
				t.Errorf("customer %s on two pages", id)
			}
			seen[id] = true
		}
		if page == 0 && !strings.Contains(body, "客户120") {
			t.Error("the first page does not start with the newest customer")
		}
		if page > 0 {
			mustContain(t, "a later page", body, `id="customer-first"`)
		}
		path = nextLink(body)
		if path != "" && !strings.Contains(path, "before=") {
			t.Fatalf("next link %q has no before=", path)
		}
	}
	if !slices.Equal(sizes, []int{50, 50, 20}) || len(seen) != 120 {
		t.Fatalf("pages of %v rows, %d customers, want 50, 50, 20 and 120", sizes, len(seen))
	}

	// A smaller page keeps its size in the next link.
	body = c.get("/customers?limit=7&member=li", 200)
	if n := len(customerRows(body)); n != 7 {
		t.Fatalf("limit=7: %d rows", n)
	}
	if next := nextLink(body); !strings.Contains(next, "limit=7") || !strings.Contains(next, "member=li") {
		t.Fatalf("next link %q lost the filters", next)
	}

	cases := []struct {
		query string
		rows  int
		want  []string
	}{
		{"q=" + url.QueryEscape("客户007"), 1, []string{"客户007"}},
		{"q=wm099", 1, []string{"客户099"}},               // an exact external_userid
		{"q=wm09", 0, []string{"No customer matches."}}, // ids match only whole
		{"member=li", 12, []string{"客户120", "客户010"}},
		{"tag=tag-vip", 40, []string{"客户120", "客户003"}},
		{"tag=tag-vip&member=li", 4, []string{"客户030"}},
		{"q=" + url.QueryEscape("客户00") + "&tag=tag-vip", 3, []string{"客户003", "客户006", "客户009"}},
	}
	for _, cs := range cases {
		body := c.get("/customers?"+cs.query, 200)
		if got := len(customerRows(body)); got != cs.rows {
			t.Errorf("%s: %d rows, want %d", cs.query, got, cs.rows)
		}
		mustContain(t, cs.query, body, cs.want...)
	}
	// The filters keep what was chosen.
	body = c.get("/customers?member=li&tag=tag-vip", 200)
	mustContain(t, "filtered page", body, `<option value="li" selected>`, `<option value="tag-vip" selected>`, `<optgroup label="客户等级">`)
}

func TestCustomerListLiveSearchFragment(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	seedDirectory(t, mustStore(t, in), 30)
	c := signedIn(t, in, auth.RoleOperator)
	hx := map[string]string{"HX-Request": "true", "HX-Target": "customer-results", "Accept-Language": "en"}
	resp, body := c.do("GET", "/customers?q="+url.QueryEscape("客户01"), nil, hx)
	if resp.StatusCode != 200 {
		t.Fatalf("fragment: %d %s", resp.StatusCode, body)
	}
	if !strings.HasPrefix(strings.TrimSpace(body), `<section class="card" id="customer-results"`) || strings.Contains(body, "<html") {
		t.Fatalf("the live search answered more than the results:\n%s", body)
	}
	if rows := customerRows(body); len(rows) != 10 {
		t.Fatalf("客户01: %d rows, want 10", len(rows))
	}
	mustNotContain(t, "fragment", body, "customers in all", "customer-filter")
	// A search too long for the list is answered in the fragment, with 400.
	resp, body = c.do("GET", "/customers?q="+strings.Repeat("长", 101), nil, hx)
	if resp.StatusCode != 400 || !strings.Contains(body, `id="customer-error"`) || !strings.Contains(body, "at most 100 characters") {
		t.Fatalf("long search: %d\n%s", resp.StatusCode, body)
	}
}

func TestCustomerListSharedBadgeAndWords(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	seedDirectory(t, mustStore(t, in), 20)
	c := signedIn(t, in, auth.RoleAgent)
	body := c.get("/customers", 200)
	row := func(name string) string {
		i := strings.Index(body, name)
		if i < 0 {
			t.Fatalf("no row for %s", name)
		}
		end := strings.Index(body[i:], "</tr>")
		return body[i : i+end]
	}
	// 客户010 and 客户020 are followed by two members: one person, marked.
	for _, name := range []string{"客户010", "客户020"} {
		mustContain(t, name, row(name), `class="badge shared"`, "Shared · 2", "Followed by 2 members")
	}
	for _, name := range []string{"客户011", "客户002"} {
		mustNotContain(t, name, row(name), "badge shared")
	}
	mustContain(t, "客户011", row("客户011"), "WeChat user", "female")
	mustContain(t, "客户012", row("客户012"), "male")
	if strings.Count(body, `class="badge shared"`) != 2 {
		t.Errorf("%d shared badges, want 2", strings.Count(body, `class="badge shared"`))
	}
	// Chinese is the default language.
	_, zh := c.do("GET", "/customers", nil, nil)
	mustContain(t, "zh-CN page", zh, "共 20 位客户", "共享 · 2", "微信用户", "女")
}

func TestCustomerListRefusesBadParameters(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	c := signedIn(t, in, auth.RoleAgent)
	cases := map[string]string{
		"before=abc":                         "before must be a whole number above 0",
		"before=-5":                          "before must be a whole number above 0",
		"before=0":                           "before must be a whole number above 0",
		"limit=0":                            "limit must be a whole number above 0",
		"limit=500":                          "limit must be from 1 to 200",
		"limit=1e3":                          "limit must be a whole number",
		"q=" + strings.Repeat("x", 101):      "at most 100 characters",
		"member=" + strings.Repeat("m", 201): "longer than 200 characters",
	}
	for q, want := range cases {
		resp, body := c.do("GET", "/customers?"+q, nil, en)
		if resp.StatusCode != 400 || !strings.Contains(body, want) || !strings.Contains(body, `role="alert"`) {
			t.Errorf("%.30s: %d, want 400 saying %q", q, resp.StatusCode, want)
		}
	}
}

func TestCustomerPage(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	seedDirectory(t, mustStore(t, in), 20)
	c := signedIn(t, in, auth.RoleAgent)
	body := c.get("/customers/wm010", 200)
	mustContain(t, "customer page", body,
		`<h1 id="page-title">客户010</h1>`, "wm010", "WeChat user", "male",
		`id="rel-wang"`, "王小明", "备注10", "scanned a QR code", "shop-qr", // wang's relation
		`id="rel-li"`, "李雷", "shared by another member", "门店", // li's, with its tag named
		"Relations with members (2)", `id="add-tag-wang"`, `id="remark-wang"`,
		"WeCom is not connected yet.", "Ask an administrator to connect it.", // an agent cannot open Settings
		`id="customer-shared"`, "Shared · 2",
	)
	mustNotContain(t, "customer page", c.get("/customers/wm011", 200), `id="customer-shared"`)
	// The tag wang's relation has is offered for removal, not for adding.
	body = c.get("/customers/wm009", 200)
	rel := body[strings.Index(body, `id="rel-wang"`):]
	mustContain(t, "wm009 wang", rel, "VIP", `value="tag-normal"`, `value="tag-shop"`)
	if add := rel[strings.Index(rel, `id="add-tag-wang"`):]; strings.Contains(add[:strings.Index(add, "</select>")], `value="tag-vip"`) {
		t.Error("VIP is offered for adding to a relation that has it")
	}
	// An ended relation says so and when, and offers no forms.
	body = c.get("/customers/wm002", 200)
	mustContain(t, "wm002", body, `id="rel-zhao"`, "deleted by the member", `class="card relation ended"`)
	mustNotContain(t, "wm002", body, `id="add-tag-zhao"`, `id="remark-zhao"`)
	// An auditor may not open customers; an unknown one is 404.
	auditor := signedIn(t, in, auth.RoleAuditor)
	auditor.get("/customers/wm010", 403)
	c.get("/customers/nobody", 404)
}

func TestCustomerChangesNeedValidInputAndWeCom(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	seedDirectory(t, mustStore(t, in), 12)
	c := signedIn(t, in, auth.RoleAgent)
	post := func(path string, v url.Values, want int, says string) {
		t.Helper()
		resp, body := c.form(path, v, map[string]string{"Accept-Language": "en"})
		if resp.StatusCode != want || !strings.Contains(body, says) {
			t.Errorf("POST %s %v: %d, want %d saying %q\n%.2000s", path, v, resp.StatusCode, want, says, body)
		}
	}
	post("/customers/wm003/tags", url.Values{"add": {"tag-vip"}}, 400, "does not say whose relation")
	post("/customers/wm003/tags", url.Values{"member": {"nobody"}, "add": {"tag-vip"}}, 404, "does not follow this customer")
	post("/customers/nobody/tags", url.Values{"member": {"wang"}, "add": {"tag-vip"}}, 404, "no customer nobody")
	post("/customers/wm003/tags", url.Values{"member": {"wang"}}, 400, "Choose a tag to add or remove.")
	post("/customers/wm003/tags", url.Values{"member": {"wang"}, "add": {"tag-gone"}}, 400, "There is no tag tag-gone")
	post("/customers/wm002/tags", url.Values{"member": {"zhao"}, "add": {"tag-vip"}}, 400, "This relation has ended")
	post("/customers/wm003/remark", url.Values{"member": {"wang"}, "remark": {strings.Repeat("备", 21)}}, 400, "at most 20 characters")
	post("/customers/wm003/remark", url.Values{"member": {"wang"}, "remark": {"ok"}, "description": {strings.Repeat("d", 151)}}, 400, "at most 150 characters")
	// Valid changes are not tried while WeCom is not connected, and
	// nothing changes locally.
	post("/customers/wm003/tags", url.Values{"member": {"wang"}, "add": {"tag-normal"}}, 409, "WeCom is not connected yet.")
	post("/customers/wm003/remark", url.Values{"member": {"wang"}, "remark": {"新备注"}}, 409, "WeCom is not connected yet.")
	body := c.get("/customers/wm003", 200)
	mustContain(t, "wm003 after refused changes", body, "备注3")
	mustNotContain(t, "wm003 after refused changes", body, "新备注")
	// The refused remark keeps what was typed in its form.
	_, body = c.form("/customers/wm003/remark", url.Values{"member": {"wang"}, "remark": {strings.Repeat("备", 21)}}, nil)
	mustContain(t, "refused remark", body, `value="`+strings.Repeat("备", 21)+`"`, `id="rel-error-wang"`, "<details open>")
	// The auditor may not change customers at all.
	auditor := signedIn(t, in, auth.RoleAuditor)
	resp, _ := auditor.form("/customers/wm003/tags", url.Values{"member": {"wang"}, "add": {"tag-normal"}}, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("auditor tagging: %d", resp.StatusCode)
	}
}

func TestNavigationFollowsPermissions(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	want := map[auth.Role][]bool{ // customers, tags, events, settings
		auth.RoleOwner:    {true, true, true, true},
		auth.RoleAdmin:    {true, true, true, true},
		auth.RoleOperator: {true, true, false, false},
		auth.RoleAgent:    {true, true, false, false},
		auth.RoleAuditor:  {false, false, true, false},
	}
	for role, shows := range want {
		body := signedIn(t, in, role).get("/", 200)
		for i, id := range []string{"nav-customers", "nav-tags", "nav-events", "nav-settings"} {
			if got := strings.Contains(body, `id="`+id+`"`); got != shows[i] {
				t.Errorf("%s sees #%s: %v, want %v", role, id, got, shows[i])
			}
		}
	}
}

func TestCustomersAPI(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	seedDirectory(t, mustStore(t, in), 30)
	_, token, err := in.Auth(t).CreateToken(context.Background(), "crm-export", auth.RoleOperator)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, in)
	hdr := map[string]string{"Authorization": "Bearer " + token}
	var page struct {
		Customers []struct {
			ExternalUserID string `json:"external_userid"`
			Name           string `json:"name"`
			Followers      int    `json:"followers"`
		} `json:"customers"`
		NextBefore *int64 `json:"next_before"`
	}
	var got []string
	for path := "/api/v1/customers?member=wang&limit=12"; path != ""; {
		resp, body := c.do("GET", path, nil, hdr)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		page.NextBefore = nil
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatal(err)
		}
		for _, cu := range page.Customers {
			got = append(got, cu.ExternalUserID)
			if want := map[bool]int{true: 2, false: 1}[cu.ExternalUserID == "wm010" || cu.ExternalUserID == "wm020" || cu.ExternalUserID == "wm030"]; cu.Followers != want {
				t.Errorf("%s has %d followers, want %d", cu.ExternalUserID, cu.Followers, want)
			}
		}
		path = ""
		if page.NextBefore != nil {
			path = "/api/v1/customers?member=wang&limit=12&before=" + strconv.FormatInt(*page.NextBefore, 10)
		}
	}
	if len(got) != 30 || got[0] != "wm030" || got[29] != "wm001" {
		t.Fatalf("API pages gave %d customers: %v", len(got), got)
	}
	resp, body := c.do("GET", "/api/v1/customers?before=x", nil, hdr)
	if resp.StatusCode != 400 || !strings.Contains(body, `"invalid"`) || !strings.Contains(body, "before must be a whole number") {
		t.Fatalf("bad before: %d %s", resp.StatusCode, body)
	}
}
