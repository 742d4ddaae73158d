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

// TestSandboxSendsEmailCampaignsToItsSink: `serve --sandbox` gives demo
// customers e-mail addresses and points e-mail at its own SMTP sink, so an
// e-mail campaign created in the console runs to the end without the
// internet.
func TestSandboxSendsEmailCampaignsToItsSink(t *testing.T) {
	in := apptest.Start(t, apptest.Options{Sandbox: true})
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{DataDir: in.Config.DataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(90 * time.Second)
	for {
		var n int
		db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM protected_values WHERE field = 'email'").Scan(&n)
		if n == 40 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d demo e-mail addresses after 90 s, want 40", n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var tag string
	if err := db.R.QueryRowContext(ctx, `SELECT t.name FROM follow_tags ft JOIN tags t ON t.tag_id = ft.tag_id
		JOIN protected_values pv ON pv.owner_kind = 'customer' AND pv.field = 'email' AND pv.owner_id = CAST(ft.customer_id AS TEXT)
		GROUP BY t.name ORDER BY COUNT(*) DESC, t.name LIMIT 1`).Scan(&tag); err != nil {
		t.Fatal(err)
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
	if page := get("/settings/providers"); !strings.Contains(page, `id="providers-sandbox"`) {
		t.Errorf("the providers page does not say e-mail goes to the sandbox's sink")
	}
	resp := post("/campaigns", url.Values{"name": {"发货通知"}, "purpose": {"service"}, "channel": {"email"}, "subject": {"您的订单已发货"},
		"text": {"{{name}}，您好：您的订单已发货。"}, "tags": {tag}, "schedule": {"now"}})
	page := resp.Header.Get("Location")
	if resp.StatusCode != 303 || !strings.HasPrefix(page, "/campaigns/") {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	if resp := post(page+"/schedule", url.Values{}); resp.StatusCode != 303 {
		t.Fatalf("schedule: %d", resp.StatusCode)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		body := get(page)
		if strings.Contains(body, `id="campaign-state">Done<`) {
			if !strings.Contains(body, `id="result-sent"`) {
				t.Errorf("done, but nothing sent:\n%s", body)
			}
			return
		}
		if strings.Contains(body, `id="campaign-state">Failed<`) || time.Now().After(deadline) {
			t.Fatalf("the campaign did not finish:\n%s", body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
