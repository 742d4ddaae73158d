package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/store"
)

// waitSynced waits until the sandbox's members are in Kith.
func waitSynced(t *testing.T, db *store.DB) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var n int
		if db.R.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM members").Scan(&n) == nil && n >= 10 {
			return
		}
	}
	t.Fatal("the sandbox's members were not synced within 60 s")
}

// TestBrowserChannels creates a channel in the console (after a refused
// plan), sees its QR code, has customers scan it in the sandbox and sees
// them in the statistics, the chart and the CSV export.
func TestBrowserChannels(t *testing.T) {
	in := apptest.Start(t, apptest.Options{Sandbox: true})
	db := mustStore(t, in)
	b := browserStart(t, in.URL, "zh-CN")
	b.open("/login")
	b.signIn("owner", apptest.OwnerPassword)
	b.wantPath("/")
	waitSynced(t, db)

	b.click("nav-channels")
	b.wantPath("/channels")
	if got := b.visible("page-title"); got != "渠道活码" {
		t.Errorf("#page-title = %q", got)
	}
	b.click("channel-new")
	b.wantPath("/channels/new")
	b.typeInto("channel-name", "地推海报")
	b.eval(`(() => {
		document.getElementById("always-zhangwei").checked = true;
		document.getElementById("backup-chenjing").checked = true;
		document.getElementById("channel-cap").value = "50";
		document.getElementById("channel-shifts").value = "周一,周二 09:00-12:00 lina\nMon 11:00-13:00 liuyang";
		document.getElementById("channel-welcome").value = "你好 {name}，欢迎光临！";
		document.querySelector("#channel-tags input[type=checkbox]").checked = true;
		return "";
	})()`)
	if status := b.click("channel-submit"); status != http.StatusBadRequest {
		t.Fatalf("overlapping shifts: status %d", status)
	}
	if got := b.visible("channel-form-error"); !strings.HasPrefix(got, "shifts[2]: Monday 11:00–13:00 overlaps shifts[1]") {
		t.Errorf("#channel-form-error = %q", got)
	}
	// The form kept what was typed; fix the windows and save.
	if got := b.element("channel-name").Value; got != "地推海报" {
		t.Errorf("name after the refusal = %q", got)
	}
	b.eval(`(() => { document.getElementById("channel-shifts").value = "周一,周二 09:00-12:00 lina\nMon 12:00-13:00 liuyang"; return ""; })()`)
	b.click("channel-submit")
	u := b.location()
	if !regexp.MustCompile(`^/channels/\d+$`).MatchString(u.Path) || u.Query().Get("done") != "saved" {
		t.Fatalf("after saving: %s", u)
	}
	b.visible("channel-done")
	b.visible("channel-qr")
	b.waitFor("the QR image", `(() => { const i = document.getElementById("channel-qr"); return i.complete && i.naturalWidth > 0 ? "ok" : "not loaded"; })()`)
	if href := b.eval(`document.getElementById("channel-qr-download").getAttribute("href")`); !strings.HasSuffix(href, "/qr?download=1") {
		t.Errorf("download link %q", href)
	}
	if got := b.visible("channel-roster"); !strings.Contains(got, "zhangwei") {
		t.Errorf("#channel-roster = %q", got)
	}
	if got := b.visible("stats-new"); got != "0" {
		t.Errorf("#stats-new before any scan = %q", got)
	}
	b.screenshot("channel-new")

	// Customers scan the code in the sandbox; WeCom's callbacks reach Kith.
	var configID string
	if err := db.R.QueryRow("SELECT remote_id FROM acq_channels WHERE id = $1", strings.TrimPrefix(u.Path, "/channels/")).Scan(&configID); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`at (http://\S+)/sandbox/`).FindStringSubmatch(in.Stdout())
	if m == nil {
		t.Fatalf("no sandbox address in %q", in.Stdout())
	}
	resp, err := http.Post(m[1]+"/sandbox/scan?count=12&config_id="+configID, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("scan: %d %s", resp.StatusCode, body)
	}
	page := u.Path
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		b.open(page)
		if b.visible("stats-new") == "12" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("#stats-new = %q 30 s after 12 scans", b.visible("stats-new"))
		}
	}
	if n := b.eval(`String(document.querySelectorAll("#channel-chart rect.bar-new").length)`); n != "1" {
		t.Errorf("chart has %s bars of new customers, want today's", n)
	}
	if got := b.visible("stats-members"); !strings.Contains(got, "zhangwei") {
		t.Errorf("#stats-members = %q", got)
	}
	b.waitFor("welcome messages", `(() => { const t = document.getElementById("channel-welcomes").innerText; return t.includes("12") ? "ok" : t; })()`)
	b.screenshot("channel-stats")

	// The export, with the browser's session.
	c := b.cookie("kith_session")
	if c == nil {
		t.Fatal("no session cookie")
	}
	req, _ := http.NewRequest(http.MethodGet, in.URL+page+"/stats.csv", nil)
	req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	csv, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// Who got them depends on the day and time (lina's shift on Monday and
	// Tuesday mornings, liuyang's at Monday noon); together, 12.
	total := 0
	lines := strings.Split(strings.TrimSpace(string(csv)), "\n")
	for _, line := range lines[1:] {
		var day, member string
		var n, lost, net int
		if _, err := fmt.Sscanf(strings.ReplaceAll(line, ",", " "), "%s %s %d %d %d", &day, &member, &n, &lost, &net); err != nil || (member != "zhangwei" && member != "liuyang" && member != "lina") {
			t.Errorf("CSV line %q: %v", line, err)
		}
		total += n
	}
	if resp.StatusCode != 200 || lines[0] != "day,member,new,lost,net,purchases,amount" || total != 12 {
		t.Errorf("CSV export: %d %q", resp.StatusCode, csv)
	}

	// The sandbox's demo channels are listed beside it, with today's customers.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		b.open("/channels")
		n := b.eval(`String(document.querySelectorAll("#channels-table tbody tr").length)`)
		if n == "3" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s channels listed, want the demo's two and ours", n)
		}
	}
	b.visible("channel-link-" + strings.TrimPrefix(page, "/channels/"))

	// English too.
	b.open(page)
	b.click("lang-en")
	if got := b.visible("channel-stats"); !strings.Contains(got, "Statistics") {
		t.Errorf("English #channel-stats = %q", got)
	}
}
