package web_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/orders/jst/jsttest"
)

func connectorForm(sb *jsttest.Server, change url.Values) url.Values {
	v := url.Values{"form": {"jst"}, "enabled": {"1"}, "interval": {"30"}, "base_url": {sb.URL}, "app_key": {jsttest.AppKey},
		"app_secret": {jsttest.AppSecret}, "access_token": {jsttest.AccessToken}, "shops": {"10 = taobao:天猫旗舰店\n"}}
	for k, vals := range change {
		v[k] = vals
	}
	return v
}

func TestOrderConnectorPage(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	sb := jsttest.Start(t)
	sb.Seed(3, 25, time.Now())
	c := signedIn(t, in, auth.RoleAdmin)
	body := c.get("/settings/orders", 200)
	mustContain(t, "empty connector", body, `id="connector-status">Not set up yet`, `id="connector-pull" disabled`, `id="set-app_secret">not set<`,
		`id="connector-noruns"`, `id="tab-orders" aria-current="page"`)

	// Non-admins may neither see nor change it.
	op := signedIn(t, in, auth.RoleOperator)
	op.get("/settings/orders", 403)
	for _, p := range []string{"/settings/orders", "/settings/orders/test", "/settings/orders/pull"} {
		if resp, _ := op.form(p, connectorForm(sb, nil), nil); resp.StatusCode != 403 {
			t.Errorf("operator POST %s: %d, want 403", p, resp.StatusCode)
		}
	}
	// A cross-site form is refused before anything is read.
	evil := map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
	if resp, _ := c.form("/settings/orders", connectorForm(sb, nil), evil); resp.StatusCode != 403 {
		t.Fatalf("cross-site save: %d, want 403", resp.StatusCode)
	}

	// Refusals say what to fix and never show a secret back.
	cases := []struct {
		change url.Values
		says   string
	}{
		{url.Values{"interval": {"2"}}, "The interval must be a whole number of minutes from 5 to 1440, not &#34;2&#34;."},
		{url.Values{"base_url": {"ftp://x"}}, "API base URL: &#34;ftp://x&#34; is not an http(s) address"},
		{url.Values{"shops": {"10 taobao"}}, "shops, line 1"},
		{url.Values{"access_token": {""}}, "the app key, app secret and access token are all needed"},
		{url.Values{"form": {""}}, "The form was incomplete"},
	}
	for _, cs := range cases {
		resp, body := c.form("/settings/orders", connectorForm(sb, cs.change), en)
		if resp.StatusCode != 400 || !strings.Contains(body, cs.says) || !strings.Contains(body, `id="connector-error"`) {
			t.Errorf("%v: %d, want 400 saying %q", cs.change, resp.StatusCode, cs.says)
		}
		mustNotContain(t, "refused connector settings", body, jsttest.AppSecret, jsttest.AccessToken)
	}

	// The test calls 聚水潭 with what was typed, saving nothing.
	_, body = c.form("/settings/orders/test", connectorForm(sb, nil), en)
	mustContain(t, "test", body, `id="connector-tested"`, "these settings work")
	mustNotContain(t, "test", body, jsttest.AppSecret, jsttest.AccessToken)
	_, body = c.form("/settings/orders/test", connectorForm(sb, url.Values{"app_secret": {"wrong-secret"}}), en)
	mustContain(t, "failed test", body, `id="connector-error"`, "check the app key and app secret")
	mustNotContain(t, "failed test", body, "wrong-secret")
	c.get("/settings/orders", 200) // still not set up
	if body := c.get("/settings/orders", 200); !strings.Contains(body, "Not set up yet") {
		t.Fatal("a test saved the settings")
	}

	resp, body := c.form("/settings/orders", connectorForm(sb, nil), en)
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/settings/orders?saved=1" {
		t.Fatalf("save: %d %s", resp.StatusCode, body)
	}
	body = c.get("/settings/orders?saved=1", 200)
	mustContain(t, "saved connector", body, `id="connector-saved"`, "On: pulls every 30 minutes.", `id="set-app_secret">set<`,
		`id="set-access_token">set<`, "10 = taobao:天猫旗舰店", `value="`+sb.URL+`"`)
	mustNotContain(t, "saved connector", body, jsttest.AppSecret, jsttest.AccessToken)

	// Sealed at rest; the save is audited by field name, never value.
	db := mustStore(t, in)
	ctx := context.Background()
	var n int
	db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM settings WHERE value LIKE '%'||$1||'%' OR value LIKE '%'||$2||'%'`, jsttest.AppSecret, jsttest.AccessToken).Scan(&n)
	if n != 0 {
		t.Fatalf("%d settings hold a connector secret in the clear", n)
	}
	var detail string
	if err := db.R.QueryRowContext(ctx, `SELECT detail FROM audit_log WHERE action = 'settings.change' AND object_id = 'jst' ORDER BY seq DESC LIMIT 1`).Scan(&detail); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(detail, "app_secret") || strings.Contains(detail, jsttest.AppSecret) || strings.Contains(detail, jsttest.AccessToken) {
		t.Fatalf("audit detail %s", detail)
	}

	// Saving with empty secrets keeps them; turning off works.
	if resp, body := c.form("/settings/orders", connectorForm(sb, url.Values{"app_secret": {""}, "access_token": {""}, "enabled": {""}}), en); resp.StatusCode != 303 {
		t.Fatalf("second save: %d %s", resp.StatusCode, body)
	}
	body = c.get("/settings/orders", 200)
	mustContain(t, "off", body, "Off: no scheduled pulls", `id="set-app_secret">set<`)

	// Pull now: a job pulls the sandbox's orders; the run shows on the page.
	resp, _ = c.form("/settings/orders/pull", url.Values{}, en)
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/settings/orders?pulled=1" {
		t.Fatalf("pull: %d", resp.StatusCode)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		body = c.get("/settings/orders?pulled=1", 200)
		if strings.Contains(body, "<td>25</td>") && strings.Contains(body, ">done ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pull did not show up:\n%s", body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	mustContain(t, "after a pull", body, `id="connector-pulled"`, "console · u-admin")
	mustNotContain(t, "after a pull", body, "nothing pulled yet")
	db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM orders WHERE shop = 'taobao:天猫旗舰店'`).Scan(&n)
	if n == 0 {
		t.Fatal("no orders of the mapped shop")
	}
}

func TestOrderConnectorInSandbox(t *testing.T) {
	in := apptest.Start(t, apptest.Options{Sandbox: true})
	c := signedIn(t, in, auth.RoleOwner)
	body := c.get("/settings/orders", 200)
	mustContain(t, "sandbox connector", body, "On: pulls every 15 minutes.", `id="set-app_secret">set<`, "/jst\"", `id="connector-pull">`)
	if resp, _ := c.form("/settings/orders/pull", url.Values{}, en); resp.StatusCode != 303 {
		t.Fatalf("pull: %d", resp.StatusCode)
	}
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(body, ">done ") {
		if time.Now().After(deadline) {
			t.Fatalf("the sandbox pull did not finish:\n%s", body)
		}
		time.Sleep(300 * time.Millisecond)
		body = c.get("/settings/orders", 200)
	}
	mustNotContain(t, "sandbox pull", body, "run-error")
	var n int
	mustStore(t, in).R.QueryRow(`SELECT COUNT(*) FROM orders WHERE shop IN ('taobao:天猫旗舰店', 'jd:京东自营店', 'douyin:抖音小店')`).Scan(&n)
	if n < 100 {
		t.Fatalf("%d sandbox orders of the three shops", n)
	}
}
