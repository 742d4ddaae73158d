package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/channel/email/smtpsink"
)

const (
	smtpSecret = "smtp-pa55word-value"
	smsSecret  = "sms-secret-key-value"
)

// TestProviderSettings: only owners and admins reach the page; a
// cross-site save is refused; secrets are stored sealed, never rendered,
// kept when left empty; wrong fields are named; saves and test sends are
// audited (the test address masked); a test e-mail arrives.
func TestProviderSettings(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	agent := signedIn(t, in, auth.RoleAgent)
	if resp, _ := agent.do("GET", "/settings/providers", nil, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("agent: %d, want 403", resp.StatusCode)
	}
	if resp, _ := agent.form("/settings/providers/smtp", url.Values{"host": {"x"}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("agent save: %d, want 403", resp.StatusCode)
	}
	admin := signedIn(t, in, auth.RoleAdmin)
	body := admin.get("/settings/providers", 200)
	mustContain(t, "empty page", body, `id="smtp"`, `id="dkim"`, `id="sms"`, `id="set-password">not set<`, `id="tab-providers"`)

	sink, err := smtpsink.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	host, port, _ := strings.Cut(sink.Addr(), ":")
	smtp := url.Values{"host": {host}, "port": {port}, "tls": {"none"}, "password": {smtpSecret},
		"from": {"news@shop.example"}, "public_url": {"https://kith.shop.example"}}
	evil := map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
	if resp, _ := admin.form("/settings/providers/smtp", smtp, evil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site save: %d, want 403", resp.StatusCode)
	}
	if resp, body := admin.form("/settings/providers/smtp", smtp, en); resp.StatusCode != 303 || resp.Header.Get("Location") != "/settings/providers?saved=smtp#smtp" {
		t.Fatalf("save smtp: %d %s", resp.StatusCode, between(body, `id="smtp-error"`, "</p>"))
	}
	sms := url.Values{"provider": {"tencent"}, "secret_id": {"AKIDexample"}, "secret_key": {smsSecret}, "sdk_app_id": {"1400006666"},
		"sign_name": {"小店"}, "price_fen": {"4.5"}, "templates": {"1001 | notice | 您的订单{1}已发货\n2001 | promo | 春季新品到店，拒收请回复R"}}
	if resp, body := admin.form("/settings/providers/sms", sms, en); resp.StatusCode != 303 {
		t.Fatalf("save sms: %d %s", resp.StatusCode, between(body, `id="sms-error"`, "</p>"))
	}
	body = admin.get("/settings/providers?saved=sms", 200)
	mustContain(t, "saved page", body, `id="providers-saved"`, `id="set-password">set<`, `id="set-secret_key">set<`, `value="news@shop.example"`,
		"2001 | promo | 春季新品到店，拒收请回复R", `<option value="1001"`, `name="price_fen" value="4.5"`)
	mustNotContain(t, "saved page", body, smtpSecret, smsSecret)

	db := mustStore(t, in)
	rows, err := db.R.QueryContext(context.Background(), "SELECT value FROM settings WHERE key LIKE 'providers.%'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v string
		rows.Scan(&v)
		if strings.Contains(v, smtpSecret) || strings.Contains(v, smsSecret) {
			t.Errorf("a secret is stored in the clear: %s", v)
		}
	}
	rows.Close()

	// An empty password keeps the stored one.
	smtp.Set("password", "")
	smtp.Set("from_name", "小店")
	if resp, _ := admin.form("/settings/providers/smtp", smtp, en); resp.StatusCode != 303 {
		t.Fatalf("save without password: %d", resp.StatusCode)
	}
	mustContain(t, "kept password", admin.get("/settings/providers", 200), `id="set-password">set<`, `value="小店"`)

	for _, c := range []struct {
		form   string
		values url.Values
		says   string
	}{
		{"smtp", url.Values{"host": {"smtp.example.com"}, "port": {"25x"}, "tls": {"starttls"}, "from": {"a@b.example"}, "public_url": {"https://k.example"}}, "port: &#34;25x&#34; is not a number"},
		{"smtp", url.Values{"host": {"smtp.example.com"}, "port": {"25"}, "tls": {"none"}, "from": {"a@b.example"}, "public_url": {"https://k.example"}}, "must be reached with TLS or STARTTLS"},
		{"smtp", url.Values{"host": {"smtp.example.com"}, "port": {"587"}, "tls": {"starttls"}, "from": {"a@b.example"}, "public_url": {"http://k.example"}}, "public address"},
		{"dkim", url.Values{"domain": {"shop.example"}, "selector": {"kith1"}}, "paste a PEM private key or generate one"},
		{"dkim", url.Values{"domain": {"nodot"}, "selector": {"kith1"}, "generate": {"1"}}, "is not a domain"},
		{"sms", url.Values{"provider": {"tencent"}, "secret_id": {"AKID"}, "sdk_app_id": {"1400006666"}, "sign_name": {"小店"}, "templates": {"1001 | later | x"}}, "the kind must be notice or promo"},
		{"sms", url.Values{"provider": {"huawei"}, "secret_id": {"AKID"}, "sign_name": {"小店"}}, "choose tencent or aliyun"},
		{"sms", url.Values{"provider": {"tencent"}, "secret_id": {"AKID"}, "sdk_app_id": {"1400006666"}, "sign_name": {"小店"}, "price_fen": {"4,5"}}, "is not a number of fen"},
		{"sms", url.Values{"provider": {"tencent"}, "secret_id": {"AKID"}, "sdk_app_id": {"1400006666"}, "sign_name": {"小店"}, "price_fen": {"-1"}}, "give 0 to 10,000"},
	} {
		resp, body := admin.form("/settings/providers/"+c.form, c.values, en)
		if resp.StatusCode != 400 || !strings.Contains(body, `id="`+c.form+`-error"`) || !strings.Contains(body, c.says) {
			t.Errorf("%s %v: %d, want 400 saying %q; got %s", c.form, c.values, resp.StatusCode, c.says, between(body, `id="`+c.form+`-error"`, "</p>"))
		}
	}

	// A test e-mail to the operator: through the gate, audited, received.
	resp, body := admin.form("/settings/providers/test/email", url.Values{"to": {"Operator@Shop.example"}}, en)
	if resp.StatusCode != 200 || !strings.Contains(body, `id="test-email-result"`) || !strings.Contains(body, "Test result: sent.") {
		t.Fatalf("test e-mail: %d %s", resp.StatusCode, between(body, `id="test-email"`, "</form>"))
	}
	if got := sink.Messages(); len(got) != 1 || got[0].To[0] != "operator@shop.example" {
		t.Fatalf("sink: %+v", got)
	}
	resp, body = admin.form("/settings/providers/test/email", url.Values{"to": {"not-an-address"}}, en)
	if resp.StatusCode != 400 || !strings.Contains(body, `id="test-email-error"`) {
		t.Errorf("bad test address: %d", resp.StatusCode)
	}
	resp, body = admin.form("/settings/providers/test/sms", url.Values{"to": {"13800138000"}, "template": {"2001"}}, en)
	if resp.StatusCode != 400 || !strings.Contains(body, "notification template") {
		t.Errorf("test SMS with a promotion template: %d %s", resp.StatusCode, between(body, `id="test-sms-error"`, "</p>"))
	}

	// The audit log has the saves (field names only) and the tests (masked).
	auditRows, err := db.R.QueryContext(context.Background(), "SELECT action, detail FROM audit_log WHERE action IN ('settings.change', 'message.test_send')")
	if err != nil {
		t.Fatal(err)
	}
	var saves, tests int
	for auditRows.Next() {
		var action, detail string
		auditRows.Scan(&action, &detail)
		if strings.Contains(detail, smtpSecret) || strings.Contains(detail, smsSecret) || strings.Contains(detail, "operator@shop.example") {
			t.Errorf("audit detail holds a secret or an address: %s", detail)
		}
		switch action {
		case "settings.change":
			saves++
		case "message.test_send":
			tests++
			if strings.Contains(detail, `"status":"sent"`) && !strings.Contains(detail, "o***@shop.example") {
				t.Errorf("test send detail: %s", detail)
			}
		}
	}
	auditRows.Close()
	if saves < 3 || tests != 3 {
		t.Errorf("audit: %d saves, %d tests", saves, tests)
	}
}
