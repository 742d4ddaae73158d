package web_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/obs"
	"github.com/kith-scrm/kith/internal/web"
)

// routeTable lists the routes as the server registers them.
func routeTable(t *testing.T) []web.Route {
	t.Helper()
	s, err := web.New(web.Deps{Metrics: obs.New(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return s.Routes()
}

// concrete turns a route pattern into a method and a path that matches it.
func concrete(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	path = strings.ReplaceAll(path, "{$}", "")
	path = strings.ReplaceAll(path, "{batch}", "b1")
	if strings.HasSuffix(path, "/static/") {
		path += "kith.css"
	}
	return method, path
}

type client struct {
	t    *testing.T
	in   *apptest.Instance
	http *http.Client
}

func newClient(t *testing.T, in *apptest.Instance) *client {
	return &client{t: t, in: in, http: in.Client()}
}

func (c *client) do(method, path string, body io.Reader, hdr map[string]string) (*http.Response, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.in.URL+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (c *client) form(path string, v url.Values, hdr map[string]string) (*http.Response, string) {
	c.t.Helper()
	if hdr == nil {
		hdr = map[string]string{}
	}
	hdr["Content-Type"] = "application/x-www-form-urlencoded"
	return c.do("POST", path, strings.NewReader(v.Encode()), hdr)
}

func (c *client) login(user, password string) *http.Response {
	c.t.Helper()
	resp, body := c.form("/login", url.Values{"username": {user}, "password": {password}, "next": {"/"}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("login %s: %d %s", user, resp.StatusCode, body)
	}
	return resp
}

func TestEveryRouteChecksItsPermission(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	a := in.Auth(t)
	ctx := context.Background()
	routes := routeTable(t)
	if len(routes) < 10 {
		t.Fatalf("only %d routes registered", len(routes))
	}
	// Signing out ends the sessions the other checks use: check it last.
	sort.SliceStable(routes, func(i, j int) bool { return routes[j].Pattern == "POST /logout" && routes[i].Pattern != "POST /logout" })
	tokens := map[auth.Role]string{}
	sessions := map[auth.Role]*client{}
	for _, role := range auth.Roles {
		_, secret, err := a.CreateToken(ctx, "t-"+string(role), role)
		if err != nil {
			t.Fatal(err)
		}
		tokens[role] = secret
		name := "u-" + string(role)
		if _, err := a.CreateUser(ctx, auth.NewUser{Username: name, Role: role, Password: "a long password 1"}); err != nil {
			t.Fatal(err)
		}
		c := newClient(t, in)
		c.login(name, "a long password 1")
		sessions[role] = c
	}
	anon := newClient(t, in)
	for _, r := range routes {
		method, path := concrete(r.Pattern)
		if r.Access != web.Public && r.Perm == "" {
			t.Errorf("%s has no permission", r.Pattern)
		}
		switch r.Access {
		case web.Page:
			resp, _ := anon.do(method, path, nil, nil)
			if method == "GET" {
				if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
					t.Errorf("anonymous %s: %d %s, want a redirect to /login", r.Pattern, resp.StatusCode, resp.Header.Get("Location"))
				}
			} else if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("anonymous %s: %d, want 401", r.Pattern, resp.StatusCode)
			}
			for role, c := range sessions {
				resp, _ := c.do(method, path, nil, map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
				forbidden := resp.StatusCode == http.StatusForbidden
				if forbidden == role.Can(r.Perm) || resp.StatusCode == http.StatusUnauthorized {
					t.Errorf("%s as %s: %d (may: %v)", r.Pattern, role, resp.StatusCode, role.Can(r.Perm))
				}
			}
		case web.API:
			resp, body := anon.do(method, path, nil, nil)
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `"unauthorized"`) {
				t.Errorf("anonymous %s: %d %s, want 401 JSON", r.Pattern, resp.StatusCode, body)
			}
			for role, tok := range tokens {
				resp, body := anon.do(method, path, strings.NewReader(`{"count": 1}`), map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"})
				forbidden := resp.StatusCode == http.StatusForbidden
				if forbidden == role.Can(r.Perm) || resp.StatusCode == http.StatusUnauthorized {
					t.Errorf("%s with a %s token: %d %s (may: %v)", r.Pattern, role, resp.StatusCode, body, role.Can(r.Perm))
				}
			}
		}
	}
	// A session cookie is no API credential, and a token is no session.
	resp, _ := sessions[auth.RoleOwner].do("GET", "/api/v1/me", nil, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("API with a session cookie: %d, want 401", resp.StatusCode)
	}
	resp, _ = anon.do("GET", "/", nil, map[string]string{"Authorization": "Bearer " + tokens[auth.RoleOwner]})
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("console page with a token: %d, want a redirect to /login", resp.StatusCode)
	}
}

func TestLoginAndLogout(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	c := newClient(t, in)
	resp, body := c.form("/login", url.Values{"username": {"owner"}, "password": {"nope"}}, map[string]string{"Accept-Language": "en"})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "The user name or password is wrong.") || !strings.Contains(body, `value="owner"`) {
		t.Fatalf("wrong password: %d\n%s", resp.StatusCode, body)
	}
	if len(resp.Cookies()) != 0 {
		t.Fatal("a failed sign-in set a cookie")
	}
	resp, _ = c.form("/login", url.Values{"username": {"owner"}, "password": {apptest.OwnerPassword}, "next": {"/status"}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/status" {
		t.Fatalf("login: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var sc *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "kith_session" {
			sc = ck
		}
	}
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" {
		t.Fatalf("session cookie %+v", sc)
	}
	resp, body = c.do("GET", "/", nil, map[string]string{"Accept-Language": "en"})
	if resp.StatusCode != 200 || !strings.Contains(body, "Instance status") || !strings.Contains(body, "SQLite") {
		t.Fatalf("dashboard: %d\n%s", resp.StatusCode, body)
	}
	resp, _ = c.do("POST", "/logout", nil, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("logout: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The old cookie no longer opens the console, even if replayed.
	replay := newClient(t, in)
	resp, _ = replay.do("GET", "/", nil, map[string]string{"Cookie": "kith_session=" + sc.Value})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("replayed cookie after logout: %d", resp.StatusCode)
	}
}

func TestLoginRedirectStaysOnSite(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"} {
		c := newClient(t, in)
		resp, _ := c.form("/login", url.Values{"username": {"owner"}, "password": {apptest.OwnerPassword}, "next": {next}}, nil)
		if loc := resp.Header.Get("Location"); loc != "/" {
			t.Errorf("next=%q redirected to %q, want /", next, loc)
		}
	}
}

func TestSecureCookieBehindHTTPS(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	c := newClient(t, in)
	resp, _ := c.form("/login", url.Values{"username": {"owner"}, "password": {apptest.OwnerPassword}}, map[string]string{"X-Forwarded-Proto": "https"})
	cks := resp.Cookies()
	if len(cks) != 1 || cks[0].Name != "__Host-kith_session" || !cks[0].Secure {
		t.Fatalf("cookies behind HTTPS: %+v", cks)
	}
}

func TestCrossOriginPostsAreRefused(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	c := newClient(t, in)
	c.login("owner", apptest.OwnerPassword)
	evil := map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
	resp, _ := c.do("POST", "/logout", nil, evil)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site logout: %d, want 403", resp.StatusCode)
	}
	resp, _ = c.form("/login", url.Values{"username": {"owner"}, "password": {apptest.OwnerPassword}}, evil)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site login: %d, want 403", resp.StatusCode)
	}
	resp, _ = c.do("GET", "/", nil, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("session ended by a refused cross-site request: %d", resp.StatusCode)
	}
	same := map[string]string{"Origin": in.URL, "Sec-Fetch-Site": "same-origin"}
	resp, _ = c.do("POST", "/logout", nil, same)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("same-origin logout: %d", resp.StatusCode)
	}
}

func TestLanguageChoice(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	c := newClient(t, in)
	_, body := c.do("GET", "/login", nil, nil)
	if !strings.Contains(body, `<html lang="zh-CN">`) || !strings.Contains(body, "登录") {
		t.Fatal("default language is not zh-CN")
	}
	_, body = c.do("GET", "/login", nil, map[string]string{"Accept-Language": "en-US,en;q=0.9"})
	if !strings.Contains(body, `<html lang="en">`) || !strings.Contains(body, "Sign in") {
		t.Fatal("Accept-Language en was not honoured")
	}
	resp, _ := c.form("/lang", url.Values{"lang": {"en"}, "next": {"/login"}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("switch: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, body = c.do("GET", "/login", nil, map[string]string{"Accept-Language": "zh-CN"})
	if !strings.Contains(body, `<html lang="en">`) {
		t.Fatal("the switch's choice did not beat Accept-Language")
	}
	resp, _ = c.form("/lang", url.Values{"lang": {"klingon"}}, nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown language: %d", resp.StatusCode)
	}
}

func TestMetrics(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	_, secret, err := in.Auth(t).CreateToken(context.Background(), "prometheus", auth.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, in)
	c.do("GET", "/healthz", nil, nil)
	c.do("GET", "/no/such/page", nil, nil)
	// The session-pruning job runs once at start; wait for its count.
	var resp *http.Response
	var body string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, body = c.do("GET", "/metrics", nil, map[string]string{"Authorization": "Bearer " + secret})
		if resp.StatusCode != 200 {
			t.Fatalf("/metrics: %d", resp.StatusCode)
		}
		if strings.Contains(body, `kind="auth.prune"`) {
			break
		}
	}
	for _, want := range []string{
		`kith_http_requests_total{code="200",method="GET",route="GET /healthz"} 1`,
		`kith_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`kith_http_request_duration_seconds_bucket`,
		`go_goroutines`, `process_resident_memory_bytes`, `kith_jobs_finished_total{kind="auth.prune",outcome="completed"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestAPIBodiesAreValidated(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	_, secret, _ := in.Auth(t).CreateToken(context.Background(), "ops", auth.RoleAdmin)
	c := newClient(t, in)
	hdr := map[string]string{"Authorization": "Bearer " + secret, "Content-Type": "application/json"}
	cases := []struct{ body, want string }{
		{``, "empty"},
		{`{"count": "ten"}`, `"count" must be a int`},
		{`{"count": 1, "colour": "red"}`, `unknown field "colour"`},
		{`{"count": 1`, "not valid JSON"},
		{`{"count": 1 x}`, "not valid JSON at byte"},
		{`{"count": 1} {"count": 2}`, "after the JSON object"},
		{`{"count": 0}`, "count must be from 1"},
		{`{"count": 1, "batch": "` + strings.Repeat("x", 2<<20) + `"}`, "larger than"},
	}
	for _, cs := range cases {
		resp, body := c.do("POST", "/api/v1/jobs/probes", strings.NewReader(cs.body), hdr)
		var e struct {
			Error struct{ Code, Message string }
		}
		json.Unmarshal([]byte(body), &e)
		if resp.StatusCode != 400 || e.Error.Code != "invalid" || !strings.Contains(e.Error.Message, cs.want) {
			t.Errorf("body %.40q: %d %s, want 400 mentioning %q", cs.body, resp.StatusCode, body, cs.want)
		}
	}
	resp, body := c.do("POST", "/api/v1/jobs/probes", strings.NewReader(`{"count": 1}`), map[string]string{"Authorization": "Bearer " + secret, "Content-Type": "text/plain"})
	if resp.StatusCode != 400 || !strings.Contains(body, "application/json") {
		t.Errorf("text/plain body: %d %s", resp.StatusCode, body)
	}
	resp, body = c.do("POST", "/api/v1/jobs/probes", strings.NewReader(`{"count": 3, "batch": "ok"}`), hdr)
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(body, `"batch": "ok"`) {
		t.Errorf("valid body: %d %s", resp.StatusCode, body)
	}
}

func TestSecurityHeadersAndUnknownPages(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	c := newClient(t, in)
	resp, body := c.do("GET", "/login", nil, nil)
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || resp.Header.Get("X-Content-Type-Options") != "nosniff" ||
		resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Referrer-Policy") != "same-origin" {
		t.Fatalf("security headers: %v", resp.Header)
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, " style=") {
		t.Fatal("the login page has inline script or style, which the CSP forbids")
	}
	resp, body = c.do("GET", "/api/v1/nothing", nil, nil)
	if resp.StatusCode != 404 || !strings.Contains(body, `"not_found"`) {
		t.Fatalf("unknown API route: %d %s", resp.StatusCode, body)
	}
	// Only the WeCom callback itself goes without the document policies.
	for _, path := range []string{"/api/v1/nothing", "/wecom/callback/x", "/wecom/callbacks"} {
		resp, _ = c.do("GET", path, nil, nil)
		if resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Fatalf("%s: security headers %v", path, resp.Header)
		}
	}
	resp, _ = c.do("GET", "/static/htmx.min.js", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
		t.Fatalf("htmx: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestStatusAPI(t *testing.T) {
	in := apptest.Start(t, apptest.Options{Sandbox: true})
	_, secret, _ := in.Auth(t).CreateToken(context.Background(), "agent", auth.RoleAgent)
	c := newClient(t, in)
	resp, body := c.do("GET", "/api/v1/status", nil, map[string]string{"Authorization": "Bearer " + secret})
	var st web.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil || resp.StatusCode != 200 {
		t.Fatalf("status: %d %s", resp.StatusCode, body)
	}
	if !st.Sandbox || st.Dialect != "sqlite" || !st.MigrationsCurrent || !st.JobsRunning || st.Users != 1 {
		t.Fatalf("status %+v", st)
	}
	if st.Database != "SQLite" {
		t.Fatalf("an agent sees the database as %q, want only \"SQLite\"", st.Database)
	}
	_, admin, _ := in.Auth(t).CreateToken(context.Background(), "admin", auth.RoleAdmin)
	_, body = c.do("GET", "/api/v1/status", nil, map[string]string{"Authorization": "Bearer " + admin})
	if !strings.Contains(body, in.Config.DataDir) {
		t.Fatalf("an admin should see the database file: %s", body)
	}
	resp, body = c.do("GET", "/api/v1/me", nil, map[string]string{"Authorization": "Bearer " + secret})
	if resp.StatusCode != 200 || !strings.Contains(body, `"role": "agent"`) {
		t.Fatalf("me: %d %s", resp.StatusCode, body)
	}
}
