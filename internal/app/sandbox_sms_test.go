package app_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/store"
)

// TestSandboxSendsSMSCampaignsToItsStandIn: `serve --sandbox` points SMS
// at its Tencent Cloud SMS stand-in, which checks the sender's signature
// and pushes delivery reports back to Kith's report address, so an SMS
// campaign created in the console is sent and its messages end delivered.
func TestSandboxSendsSMSCampaignsToItsStandIn(t *testing.T) {
	in := apptest.Start(t, apptest.Options{Sandbox: true})
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{DataDir: in.Config.DataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tag string
	deadline := time.Now().Add(90 * time.Second)
	for {
		// The demo company's numbers come with the first sync.
		err := db.R.QueryRowContext(ctx, `SELECT t.name FROM follow_tags ft JOIN tags t ON t.tag_id = ft.tag_id
			JOIN customer_phones p ON p.customer_id = ft.customer_id GROUP BY t.name ORDER BY COUNT(DISTINCT ft.customer_id) DESC, t.name LIMIT 1`).Scan(&tag)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no demo customer with a number and a tag after 90 s: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	c := in.Client()
	post := func(path string, v url.Values) *http.Response {
		t.Helper()
		resp, err := c.PostForm(in.URL+path, v)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	get := func(path string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", in.URL+path, nil)
		req.Header.Set("Accept-Language", "en")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if resp := post("/login", url.Values{"username": {"owner"}, "password": {apptest.OwnerPassword}}); resp.StatusCode != 303 {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	resp := post("/campaigns", url.Values{"name": {"积分通知"}, "purpose": {"service"}, "channel": {"sms"}, "sign": {"小店"}, "template_id": {"1002"},
		"text": {"您的会员积分已更新，详情请查看小程序"}, "tags": {tag}, "schedule": {"now"}})
	page := resp.Header.Get("Location")
	if resp.StatusCode != 303 || !strings.HasPrefix(page, "/campaigns/") {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	if resp := post(page+"/schedule", url.Values{}); resp.StatusCode != 303 {
		t.Fatalf("schedule: %d", resp.StatusCode)
	}
	id := strings.TrimPrefix(page, "/campaigns/")
	deadline = time.Now().Add(60 * time.Second)
	for {
		var state string
		var sent, delivered, other int
		db.R.QueryRowContext(ctx, "SELECT state FROM campaigns WHERE id = $1", id).Scan(&state)
		db.R.QueryRowContext(ctx, `SELECT COUNT(CASE WHEN state = 'sent' THEN 1 END), COUNT(CASE WHEN state = 'delivered' THEN 1 END),
			COUNT(CASE WHEN state NOT IN ('sent', 'delivered', 'refused') THEN 1 END) FROM campaign_deliveries WHERE campaign_id = $1`, id).Scan(&sent, &delivered, &other)
		if state == "failed" || other > 0 && state == "done" {
			t.Fatalf("campaign %s, %d deliveries neither sent nor refused:\n%s", state, other, get(page))
		}
		// Reports that came before their batch was settled wait for the
		// campaign's poll (every 5 minutes): most come after.
		if state == "done" && delivered > 0 {
			if !strings.Contains(get(page), `id="result-delivered"`) {
				t.Errorf("the campaign page does not show the delivered count")
			}
			t.Logf("%d delivered, %d sent waiting for a report", delivered, sent)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("campaign %s: %d sent, %d delivered after 60 s", state, sent, delivered)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
