package web_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/app/apptest"
)

// TestBrowserCampaigns creates a WeCom campaign in the console (after a
// refused form), previews it, schedules it, watches it start, and cancels
// a second one.
func TestBrowserCampaigns(t *testing.T) {
	in := apptest.Start(t, apptest.Options{Sandbox: true})
	db := mustStore(t, in)
	b := browserStart(t, in.URL, "zh-CN")
	b.open("/login")
	b.signIn("owner", apptest.OwnerPassword)
	b.wantPath("/")
	waitSynced(t, db)
	var tag string
	for deadline := time.Now().Add(60 * time.Second); tag == "" && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		db.R.QueryRowContext(context.Background(), "SELECT t.name FROM tags t JOIN follow_tags ft ON ft.tag_id = t.tag_id LIMIT 1").Scan(&tag)
	}
	if tag == "" {
		t.Fatal("no tagged customer was synced")
	}

	b.click("nav-campaigns")
	b.wantPath("/campaigns")
	if got := b.visible("page-title"); got != "群发活动" {
		t.Errorf("#page-title = %q", got)
	}
	b.typeInto("campaign-name", "春季上新")
	b.typeInto("campaign-text", "春季新品到店")
	// No audience: refused, saying so.
	if status := b.click("campaign-submit"); status != http.StatusBadRequest {
		t.Fatalf("no audience: status %d", status)
	}
	if got := b.visible("campaign-form-error"); !strings.Contains(got, "at least one tag") {
		t.Errorf("error = %q", got)
	}
	b.typeInto("campaign-tags", tag)
	b.click("campaign-submit")
	u := b.location()
	if !regexp.MustCompile(`^/campaigns/\d+$`).MatchString(u.Path) {
		t.Fatalf("after create: %s", u)
	}
	page := u.Path
	if got := b.visible("campaign-state"); got != "草稿" {
		t.Errorf("state = %q", got)
	}
	b.click("campaign-preview-link")
	if got := b.visible("campaign-preview"); !strings.Contains(got, "受众") {
		t.Errorf("preview = %q", got)
	}
	b.click("campaign-schedule-submit")
	b.visible("campaign-done")
	var state string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		b.open(page)
		if state = b.visible("campaign-state"); state == "已完成" || state == "失败" {
			break
		}
	}
	if state != "已完成" && state != "失败" {
		t.Fatalf("the campaign did not start: %q", state)
	}
	b.visible("campaign-results")

	// A second one, for later, cancelled.
	b.open("/campaigns")
	b.typeInto("campaign-name", "下周活动")
	b.typeInto("campaign-text", "下周见")
	b.typeInto("campaign-tags", tag)
	b.eval(`(() => { document.getElementById("campaign-schedule").value = "at";
		document.getElementById("campaign-at").value = "` + time.Now().Add(7*24*time.Hour).Format("2006-01-02T15:04") + `"; return ""; })()`)
	b.click("campaign-submit")
	b.click("campaign-schedule-submit")
	if got := b.visible("campaign-state"); got != "已排期" {
		t.Fatalf("state = %q", got)
	}
	b.click("campaign-cancel-submit")
	if got := b.visible("campaign-state"); got != "已取消" {
		t.Errorf("state after cancel = %q", got)
	}
	b.visible("campaign-done")
}
