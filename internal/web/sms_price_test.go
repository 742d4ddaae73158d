package web_test

import (
	"net/http"
	"net/url"
	"testing"
)

// TestSMSPricePreview: an SMS campaign's preview estimates its cost at the
// price saved with the SMS provider (4.5 fen a part here, not the default),
// and says which price it used.
func TestSMSPricePreview(t *testing.T) {
	sb, in := sandboxInstance(t, 20)
	c := newClient(t, in)
	c.login("owner", "correct horse battery staple")
	syncWithButton(t, c)
	en := map[string]string{"Accept-Language": "en"}
	smsPage := func(price string) string {
		t.Helper()
		v := url.Values{"provider": {"tencent"}, "secret_id": {"AKIDexample"}, "secret_key": {"k"}, "sdk_app_id": {"1400006666"},
			"sign_name": {"小店"}, "price_fen": {price}, "templates": {"2001 | promo | 春季新品到店，拒收请回复R"}}
		if resp, _ := c.form("/settings/providers/sms", v, en); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("save the SMS provider at %s fen: %d", price, resp.StatusCode)
		}
		resp, _ := c.form("/campaigns", url.Values{"name": {"短信" + price}, "purpose": {"marketing"}, "channel": {"sms"}, "sign": {"小店"}, "template_id": {"2001"},
			"text": {"春季新品到店，拒收请回复R"}, "tags": {sb.TagGroups()[0].Tags[0].Name}, "schedule": {"now"}}, en)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("create: %d", resp.StatusCode)
		}
		return c.get(resp.Header.Get("Location")+"?preview=1", 200)
	}
	mustContain(t, "preview at 4.5", smsPage("4.5"), `id="campaign-preview-cost"`, `id="campaign-preview-price">At 4.5 fen per billed part`)
	mustContain(t, "preview at 12", smsPage("12"), `id="campaign-preview-price">At 12 fen per billed part`)
}
