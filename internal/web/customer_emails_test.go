package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// TestCustomerEmailAddresses: added on the page (masked, source shown,
// duplicates and bad addresses refused beside the form), revealed once
// with an audited reason, removed; the API adds, lists and deletes them;
// auditors may not add.
func TestCustomerEmailAddresses(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { customerEmailAddresses(t, false) })
	if os.Getenv(storetest.EnvURL) != "" {
		t.Run("postgres", func(t *testing.T) { customerEmailAddresses(t, true) })
	}
}

func customerEmailAddresses(t *testing.T, pg bool) {
	{
		in := apptest.Start(t, apptest.Options{Postgres: pg})
		db := mustStore(t, in)
		seedDirectory(t, db, 3)
		agent := signedIn(t, in, auth.RoleAgent)
		const addr = "Chen.Jing@Shop-Customer.example"
		if resp, _ := agent.form("/customers/wm001/emails", url.Values{"email": {addr}}, en); resp.StatusCode != 303 {
			t.Fatalf("add: %d", resp.StatusCode)
		}
		body := agent.get("/customers/wm001?done=email_add", 200)
		mustContain(t, "page", body, "The e-mail address was added.", "c***@shop-customer.example", "added in the console")
		mustNotContain(t, "page", body, "chen.jing@", "Chen.Jing@")
		for _, c := range []struct{ email, says string }{
			{"CHEN.JING@shop-customer.example", "has this e-mail address already"},
			{"not-an-address", "exactly one @"},
		} {
			resp, body := agent.form("/customers/wm001/emails", url.Values{"email": {c.email}}, en)
			if resp.StatusCode == 303 || !strings.Contains(body, `id="emails-error"`) || !strings.Contains(body, c.says) {
				t.Errorf("%s: %d %s", c.email, resp.StatusCode, between(body, `id="emails-error"`, "</p>"))
			}
		}
		var index string
		if err := db.R.QueryRowContext(context.Background(), "SELECT value_index FROM protected_values WHERE field = 'email'").Scan(&index); err != nil {
			t.Fatal(err)
		}
		// Reveal: a reason is required; the answer shows it once, uncached.
		resp, body := agent.form("/customers/wm001/emails/"+index+"/reveal", url.Values{"reason": {""}}, en)
		if resp.StatusCode != 400 || !strings.Contains(body, "Give a reason") {
			t.Errorf("reveal without reason: %d", resp.StatusCode)
		}
		resp, body = agent.form("/customers/wm001/emails/"+index+"/reveal", url.Values{"reason": {"customer asked for the invoice"}}, en)
		if resp.StatusCode != 200 || !strings.Contains(body, `id="email-revealed">chen.jing@shop-customer.example<`) || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("reveal: %d %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
		var reveals int
		db.R.QueryRow("SELECT COUNT(*) FROM audit_log WHERE action = 'pii.reveal' AND detail LIKE '%invoice%'").Scan(&reveals)
		if reveals != 1 {
			t.Errorf("%d audited reveals", reveals)
		}
		viewer := signedIn(t, in, auth.RoleAuditor)
		if resp, _ := viewer.form("/customers/wm001/emails", url.Values{"email": {"x@y.example"}}, en); resp.StatusCode != http.StatusForbidden {
			t.Errorf("auditor add: %d", resp.StatusCode)
		}
		if resp, _ := agent.form("/customers/wm001/emails/"+index+"/remove", url.Values{}, en); resp.StatusCode != 303 {
			t.Fatalf("remove: %d", resp.StatusCode)
		}
		mustContain(t, "after removal", agent.get("/customers/wm001", 200), `id="emails-none"`)

		// The API.
		_, tok, err := in.Auth(t).CreateToken(context.Background(), "t-agent", auth.RoleAgent)
		if err != nil {
			t.Fatal(err)
		}
		api := newClient(t, in)
		h := map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
		resp, body = api.do("POST", "/api/v1/customers/wm002/emails", strings.NewReader(`{"email": "wang@shop-customer.example"}`), h)
		var added struct{ Index, Masked, Source string }
		if json.Unmarshal([]byte(body), &added); resp.StatusCode != 201 || added.Masked != "w***@shop-customer.example" || added.Source != "api" {
			t.Fatalf("api add: %d %s", resp.StatusCode, body)
		}
		if resp, body := api.do("POST", "/api/v1/customers/wm002/emails", strings.NewReader(`{"email": "wang@shop-customer.example"}`), h); resp.StatusCode != 409 {
			t.Errorf("api duplicate: %d %s", resp.StatusCode, body)
		}
		resp, body = api.do("GET", "/api/v1/customers/wm002/emails", nil, h)
		if resp.StatusCode != 200 || !strings.Contains(body, added.Index) || strings.Contains(body, "wang@") {
			t.Errorf("api list: %d %s", resp.StatusCode, body)
		}
		if resp, _ := api.do("DELETE", "/api/v1/customers/wm002/emails/"+added.Index, nil, h); resp.StatusCode != 204 {
			t.Errorf("api delete: %d", resp.StatusCode)
		}
		if resp, _ := api.do("DELETE", "/api/v1/customers/wm002/emails/"+added.Index, nil, h); resp.StatusCode != 404 {
			t.Errorf("api delete again: %d", resp.StatusCode)
		}
	}
}
