package web_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/orders"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// ordersInstance starts an instance with protected fields, three
// customers, and two orders of the last days pushed through the webhook: u_2 of wm002
// (linked through its external_userid) and u_9 of nobody; on PostgreSQL
// when postgres is set.
func ordersInstance(t *testing.T, postgres bool) (*apptest.Instance, *store.DB) {
	t.Helper()
	session, _ := newKeyB64()
	field, fieldKey := newKeyB64()
	blind, blindKey := newKeyB64()
	in := apptest.Start(t, apptest.Options{Postgres: postgres, Env: map[string]string{"KITH_SESSION_KEY": session, "KITH_FIELD_KEY": field, "KITH_BLIND_INDEX_KEY": blind}})
	db := mustStore(t, in)
	seedDirectory(t, db, 3)
	p, _ := protect.New(fieldKey, blindKey)
	secret, err := orders.NewStore(db, p, kith.SystemClock{}).AddSource(context.Background(), "mall")
	if err != nil {
		t.Fatal(err)
	}
	day := func(ago int) string { return time.Now().AddDate(0, 0, -ago).Format(time.RFC3339) }
	body := `{"orders": [
	  {"shop": "mall", "order_no": "A1", "external_userid": "wm002", "buyer_account": "u_2", "status": "completed", "total_fen": 25800,
	   "ordered_at": "` + day(3) + `"},
	  {"shop": "mall", "order_no": "A2", "buyer_account": "u_9", "status": "completed", "total_fen": 9900,
	   "ordered_at": "` + day(2) + `"}]}`
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req, _ := http.NewRequest("POST", in.URL+"/api/v1/orders/webhook/mall", strings.NewReader(body))
	req.Header.Set(orders.HeaderTimestamp, ts)
	req.Header.Set(orders.HeaderSignature, orders.Sign(secret, ts, []byte(body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("webhook: %v %v", resp, err)
	}
	resp.Body.Close()
	return in, db
}

func auditCount(t *testing.T, db *store.DB, action string) int {
	t.Helper()
	var n int
	if err := db.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = $1 AND object_type = 'shop_identity'`, action).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLinkAndUnlinkIdentitiesOnThePage: the customer page lists the shop
// identities masked; linking needs a reason, a known account and one no
// other customer holds (named only by a link, masked); link and unlink are
// audited and move the orders; an agent may do neither.
func TestLinkAndUnlinkIdentitiesOnThePage(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { linkAndUnlinkIdentitiesOnThePage(t, false) })
	if os.Getenv(storetest.EnvURL) != "" {
		t.Run("postgres", func(t *testing.T) { linkAndUnlinkIdentitiesOnThePage(t, true) })
	}
}

func linkAndUnlinkIdentitiesOnThePage(t *testing.T, postgres bool) {
	in, db := ordersInstance(t, postgres)
	c := newClient(t, in)
	c.login("owner", apptest.OwnerPassword)

	page := c.get("/customers/wm002", 200)
	mustContain(t, "wm002's page", page, `id="orders-accounts"`, "mall u***", `id="identity-link"`, "/identities/", `<option value="mall:mall">`)
	mustNotContain(t, "wm002's page", page, "u_2")

	link := func(ext, shop, account, reason string) (*http.Response, string) {
		return c.form("/customers/"+ext+"/identities", url.Values{"shop": {shop}, "account": {account}, "reason": {reason}}, en)
	}
	if r, body := link("wm001", "mall:mall", "u_9", ""); r.StatusCode != 400 || !strings.Contains(body, "reason is missing") {
		t.Fatalf("no reason: %d\n%s", r.StatusCode, body)
	}
	if r, body := link("wm001", "mall:mall", "nobody", "told in chat"); r.StatusCode != 404 || !strings.Contains(body, "no buyer account &#34;nobody&#34;") {
		t.Fatalf("unknown account: %d\n%s", r.StatusCode, body)
	}
	r, body := link("wm001", "mall:mall", "u_2", "told in chat")
	if r.StatusCode != 409 || !strings.Contains(body, `href="/customers/wm002" id="identity-elsewhere">wm00***</a>`) ||
		!strings.Contains(body, "already linked to another customer") {
		t.Fatalf("linked elsewhere: %d\n%s", r.StatusCode, body)
	}
	if n := auditCount(t, db, "orders.identity.link"); n != 0 {
		t.Fatalf("%d links audited after refusals", n)
	}

	agent := signedIn(t, in, auth.RoleAgent)
	if r, _ := agent.form("/customers/wm001/identities", url.Values{"shop": {"mall:mall"}, "account": {"u_9"}, "reason": {"x"}}, en); r.StatusCode != 403 {
		t.Fatalf("agent links: %d", r.StatusCode)
	}
	if strings.Contains(agent.get("/customers/wm002", 200), `id="identity-link"`) {
		t.Fatal("an agent sees the link form")
	}

	if r, body := link("wm001", "mall:mall", "u_9", "told the order number in chat"); r.StatusCode != 303 || r.Header.Get("Location") != "/customers/wm001?done=identity_link#orders" {
		t.Fatalf("link: %d %s\n%s", r.StatusCode, r.Header.Get("Location"), body)
	}
	page = c.get("/customers/wm001?done=identity_link", 200)
	mustContain(t, "wm001 after the link", page, `id="identity-done"`, "A2", "mall u***", "manual")
	if n := auditCount(t, db, "orders.identity.link"); n != 1 {
		t.Fatalf("%d links audited", n)
	}
	var reason string
	if err := db.R.QueryRow(`SELECT purpose FROM audit_log WHERE action = 'orders.identity.link'`).Scan(&reason); err != nil || reason != "told the order number in chat" {
		t.Fatalf("audited reason %q, %v", reason, err)
	}

	var id int64
	if err := db.R.QueryRow(`SELECT id FROM shop_identities WHERE customer_id = (SELECT id FROM customers WHERE external_userid = 'wm001')`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	unlink := func(ext string, id int64, reason string) (*http.Response, string) {
		return c.form("/customers/"+ext+"/identities/"+strconv.FormatInt(id, 10)+"/unlink", url.Values{"reason": {reason}}, en)
	}
	if r, _ := unlink("wm002", id, "wrong"); r.StatusCode != 404 {
		t.Fatalf("unlink another customer's identity: %d", r.StatusCode)
	}
	if r, body := unlink("wm001", id, " "); r.StatusCode != 400 || !strings.Contains(body, "reason is missing") {
		t.Fatalf("unlink without reason: %d", r.StatusCode)
	}
	if r, _ := unlink("wm001", id, "a neighbour's account"); r.StatusCode != 303 {
		t.Fatalf("unlink: %d", r.StatusCode)
	}
	page = c.get("/customers/wm001", 200)
	mustContain(t, "wm001 after the unlink", page, `id="orders-none"`)
	if n := auditCount(t, db, "orders.identity.unlink"); n != 1 {
		t.Fatalf("%d unlinks audited", n)
	}
}

// TestIdentitiesAPI: the API pair links and unlinks with the same checks.
func TestIdentitiesAPI(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { identitiesAPI(t, false) })
	if os.Getenv(storetest.EnvURL) != "" {
		t.Run("postgres", func(t *testing.T) { identitiesAPI(t, true) })
	}
}

func identitiesAPI(t *testing.T, postgres bool) {
	in, db := ordersInstance(t, postgres)
	_, token, err := in.Auth(t).CreateToken(context.Background(), "erp", auth.RoleOperator)
	if err != nil {
		t.Fatal(err)
	}
	_, agentToken, err := in.Auth(t).CreateToken(context.Background(), "desk", auth.RoleAgent)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, in)
	hdr := func(tok string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
	}
	post := func(tok, ext, body string) (*http.Response, string) {
		return c.do("POST", "/api/v1/customers/"+ext+"/identities", strings.NewReader(body), hdr(tok))
	}
	if r, _ := post(agentToken, "wm001", `{"shop":"mall:mall","account":"u_9","reason":"x"}`); r.StatusCode != 403 {
		t.Fatalf("agent token: %d", r.StatusCode)
	}
	if r, body := post(token, "wm001", `{"shop":"mall:mall","account":"u_9"}`); r.StatusCode != 400 || !strings.Contains(body, "reason is missing") {
		t.Fatalf("no reason: %d %s", r.StatusCode, body)
	}
	if r, body := post(token, "wm001", `{"shop":"mall:mall","account":"u_2","reason":"x"}`); r.StatusCode != 409 ||
		!strings.Contains(body, `"customer": "/api/v1/customers/wm002"`) || strings.Contains(body, "u_2") {
		t.Fatalf("linked elsewhere: %d %s", r.StatusCode, body)
	}
	if r, body := post(token, "wm009", `{"shop":"mall:mall","account":"u_9","reason":"x"}`); r.StatusCode != 404 {
		t.Fatalf("unknown customer: %d %s", r.StatusCode, body)
	}
	r, body := post(token, "wm001", `{"shop":"mall:mall","account":"u_9","reason":"order number told in chat"}`)
	if r.StatusCode != 201 || !strings.Contains(body, `"account": "u***"`) || !strings.Contains(body, `"linked_by": "manual"`) {
		t.Fatalf("link: %d %s", r.StatusCode, body)
	}
	if r, _ := post(token, "wm001", `{"shop":"mall:mall","account":"u_9","reason":"again"}`); r.StatusCode != 409 {
		t.Fatalf("linked twice: %d", r.StatusCode)
	}
	var id string
	if err := db.R.QueryRow(`SELECT CAST(id AS TEXT) FROM shop_identities WHERE linked_by = 'manual'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	del := func(path string, body string) int {
		r, _ := c.do("DELETE", path, strings.NewReader(body), hdr(token))
		return r.StatusCode
	}
	if s := del("/api/v1/customers/wm001/identities/"+id, ""); s != 400 {
		t.Fatalf("unlink without reason: %d", s)
	}
	if s := del("/api/v1/customers/wm002/identities/"+id+"?reason=x", ""); s != 404 {
		t.Fatalf("unlink from another customer: %d", s)
	}
	if s := del("/api/v1/customers/wm001/identities/"+id, `{"reason":"a neighbour's account"}`); s != 204 {
		t.Fatalf("unlink: %d", s)
	}
	if n := auditCount(t, db, "orders.identity.link") + auditCount(t, db, "orders.identity.unlink"); n != 2 {
		t.Fatalf("%d entries audited", n)
	}
	var actor string
	if err := db.R.QueryRow(`SELECT actor FROM audit_log WHERE action = 'orders.identity.unlink'`).Scan(&actor); err != nil || actor != "erp" {
		t.Fatalf("audited actor %q, %v", actor, err)
	}
}
