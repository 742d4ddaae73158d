package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

var campaignPageRe = regexp.MustCompile(`^/campaigns/(\d+)$`)

// TestCampaignsFromTheConsole: bad input is refused saying what is wrong;
// a draft is created, previewed, scheduled (the tick starts it at once)
// and shown with its results; another is scheduled for later and
// cancelled.
func TestCampaignsFromTheConsole(t *testing.T) {
	sb, in := sandboxInstance(t, 20)
	c := newClient(t, in)
	c.login("owner", "correct horse battery staple")
	syncWithButton(t, c)
	tag := sb.TagGroups()[0].Tags[0].Name
	valid := func() url.Values {
		return url.Values{"name": {"春季上新"}, "purpose": {"marketing"}, "channel": {"wecom"}, "text": {"春季新品到店"}, "tags": {tag}, "schedule": {"now"}}
	}
	for _, tc := range []struct {
		name string
		edit func(url.Values)
		want string
	}{
		{"no name", func(v url.Values) { v.Set("name", "") }, "the name is empty"},
		{"text too long", func(v url.Values) { v.Set("text", strings.Repeat("字", 1400)) }, "WeCom allows at most 4000"},
		{"no audience", func(v url.Values) { v.Del("tags") }, "choose a saved segment or at least one tag"},
		{"bad time", func(v url.Values) { v.Set("schedule", "at"); v.Set("at", "tomorrow") }, "时间：请填写发送的日期和时间"},
		{"sms without opt-out", func(v url.Values) {
			v.Set("channel", "sms")
			v.Set("sign", "小店")
			v.Set("template_id", "1001")
		}, "must tell people how to refuse"},
	} {
		v := valid()
		tc.edit(v)
		resp, body := c.form("/campaigns", v, nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, tc.want) || !strings.Contains(body, `id="campaign-form-error"`) {
			t.Errorf("%s: %d, want 400 with %q", tc.name, resp.StatusCode, tc.want)
		}
	}
	resp, _ := c.form("/campaigns", valid(), nil)
	page := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !campaignPageRe.MatchString(page) {
		t.Fatalf("create: %d %q", resp.StatusCode, page)
	}
	body := c.get(page, 200)
	mustContain(t, "draft", body, `id="campaign-state">Draft<`, `id="campaign-schedule-submit"`, "春季新品到店")
	body = c.get(page+"?preview=1", 200)
	mustContain(t, "preview", body, `id="campaign-preview"`, "customers in the audience")
	resp, _ = c.form(page+"/schedule", url.Values{}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != page+"?done=scheduled" {
		t.Fatalf("schedule: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The tick starts it at once: it runs (or fails when the gate permits
	// nobody, saying why).
	deadline := time.Now().Add(15 * time.Second)
	for {
		body = c.get(page, 200)
		if strings.Contains(body, `id="campaign-state">Done<`) || strings.Contains(body, `id="campaign-state">Failed<`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the campaign did not start:\n%s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if strings.Contains(body, "Failed<") {
		mustContain(t, "failed campaign", body, `id="campaign-reason"`, "No recipient is permitted", `id="result-refused"`)
	}
	resp, csvBody := c.do("GET", page+"/results.csv", nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" || !strings.HasPrefix(csvBody, "customer_id,external_userid,") {
		t.Errorf("csv: %d %q", resp.StatusCode, csvBody)
	}
	body = c.get(page, 200)
	mustContain(t, "results", body, `id="campaign-summary"`, `id="campaign-opted-out"`, `id="campaign-xlsx"`, `id="campaign-xlsx-reveal"`)
	resp, xlsx := c.do("GET", page+"/results.xlsx", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "spreadsheetml") || !strings.HasPrefix(xlsx, "PK") {
		t.Errorf("xlsx: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp, _ := c.do("GET", page+"/results.xlsx?reveal=1", nil, nil); resp.StatusCode != 200 {
		t.Errorf("xlsx revealed to the owner: %d", resp.StatusCode)
	}
	list := c.get("/campaigns", 200)
	mustContain(t, "list", list, "春季上新", `id="campaigns-table"`)

	later := valid()
	later.Set("name", "下周活动")
	later.Set("schedule", "at")
	later.Set("at", time.Now().Add(7*24*time.Hour).Format("2006-01-02T15:04"))
	resp, _ = c.form("/campaigns", later, nil)
	page2 := resp.Header.Get("Location")
	if resp, _ := c.form(page2+"/schedule", url.Values{}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("schedule for later: %d", resp.StatusCode)
	}
	body = c.get(page2, 200)
	mustContain(t, "scheduled", body, `id="campaign-state">Scheduled<`, `id="campaign-cancel-submit"`)
	resp, _ = c.form(page2+"/cancel", url.Values{}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != page2+"?done=cancelled" {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	body = c.get(page2+"?done=cancelled", 200)
	mustContain(t, "cancelled", body, `id="campaign-state">Cancelled<`, `id="campaign-done"`)
	// Once cancelled, it cannot be scheduled again.
	resp, body = c.form(page2+"/schedule", url.Values{}, nil)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, `id="campaign-error"`) {
		t.Errorf("schedule a cancelled campaign: %d", resp.StatusCode)
	}
}
