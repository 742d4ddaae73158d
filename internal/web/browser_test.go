package web_test

// Browser tests: a whole Kith instance (apptest) driven by a real headless
// Chromium through chromedp. They check what a person sees in the console:
// the redirect to the login form, sign-in errors, the dashboard, the language
// switch, sign-out, the sandbox banner, the one-time password flow, and the
// customers, customer and tags pages with the live search.
//
// The tests look for the browser in $KITH_CHROMIUM, /usr/bin/chromium and then
// on $PATH; without one they skip, or fail when $KITH_REQUIRE_CHROMIUM is set
// (as in CI). Set KITH_BROWSER_SCREENSHOT=/some/file.png to keep a copy of
// the dashboard screenshot for a look, and KITH_BROWSER_SCREENSHOT_DIR=/some/dir
// for those of the customers, customer and tags pages. The helpers are in
// browserkit_test.go.

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/kith-scrm/kith/internal/app/apptest"
)

func TestBrowserRedirectsToLogin(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	b := browserStart(t, in.URL, "zh-CN")

	b.open("/")
	u := b.wantPath("/login")
	if next := u.Query().Get("next"); next != "/" {
		t.Errorf("login URL %s has next=%q, want /", u, next)
	}
	b.visible("username")
	b.visible("password")
	b.visible("login-submit")
	b.absent("login-error")
	b.absent("whoami")
	b.absent("logout")
	b.absent("sandbox-banner") // no --sandbox
	if el := b.element("username"); el.Value != "" {
		t.Errorf("user name field holds %q, want empty", el.Value)
	}
	// The form carries next, so signing in returns to the page asked for.
	if next := b.eval(`document.querySelector('form[action="/login"] input[name="next"]').value`); next != "/" {
		t.Errorf("form field next = %q, want /", next)
	}
}

func TestBrowserWrongPassword(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	b := browserStart(t, in.URL, "zh-CN")

	b.open("/login")
	if status := b.signIn("owner", "not the password at all"); status != 401 {
		t.Errorf("wrong password answered %d, want 401", status)
	}
	b.wantPath("/login")
	if got, want := b.visible("login-error"), "用户名或密码错误。"; got != want {
		t.Errorf("#login-error = %q, want %q", got, want)
	}
	if el := b.element("username"); el.Value != "owner" {
		t.Errorf("user name field holds %q after the error, want owner", el.Value)
	}
	if el := b.element("password"); el.Value != "" {
		t.Errorf("password field holds %q after the error, want it empty", el.Value)
	}
	b.absent("whoami")

	// The right password still works from the error page.
	if status := b.signIn("", apptest.OwnerPassword); status != 200 {
		t.Errorf("sign-in after the error answered %d", status)
	}
	b.wantPath("/")
	b.visible("whoami")
}

func TestBrowserDashboard(t *testing.T) {
	_, b := browserSignedIn(t, apptest.Options{})

	if got, want := b.visible("page-title"), "概览"; got != want {
		t.Errorf("#page-title = %q, want %q", got, want)
	}
	b.visible("status-card")
	if db := b.visible("status-database"); !strings.HasPrefix(db, "SQLite") {
		t.Errorf("#status-database = %q, want SQLite ...", db)
	}
	if who := b.visible("whoami"); !strings.Contains(who, "owner") {
		t.Errorf("#whoami = %q, want it to name owner", who)
	}
	b.visible("logout")
	b.absent("sandbox-banner")
	b.absent("must-change")
	if got, want := b.visible("status-sandbox"), "关闭"; got != want {
		t.Errorf("#status-sandbox = %q, want %q", got, want)
	}

	// The style sheet and htmx loaded (the CSP allows them), so the page
	// is laid out as designed and the status card refreshes itself.
	if d := b.eval(`getComputedStyle(document.querySelector("header.topbar")).display`); d != "flex" {
		t.Errorf("header.topbar has display %q, want flex: kith.css did not apply", d)
	}
	if bg := b.eval(`getComputedStyle(document.body).backgroundColor`); bg != "rgb(245, 247, 250)" {
		t.Errorf("body background = %q, want rgb(245, 247, 250) from kith.css", bg)
	}
	if typ := b.eval(`typeof window.htmx`); typ != "object" {
		t.Errorf("typeof htmx = %q, want object: htmx.min.js did not load", typ)
	}
	// Nothing overflows the 1280 px window sideways.
	if w := b.eval(`String(document.documentElement.scrollWidth)`); w != "1280" {
		t.Errorf("page is %s px wide in a 1280 px window", w)
	}

	shot, err := browserRun(b, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if r := img.Bounds(); r.Dx() < 1000 || r.Dy() < 300 {
		t.Errorf("screenshot is %v, want about 1280×800", r)
	}
	path := filepath.Join(t.TempDir(), "dashboard.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	if keep := os.Getenv("KITH_BROWSER_SCREENSHOT"); keep != "" {
		if err := os.WriteFile(keep, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("dashboard screenshot written to %s", keep)
	}
}

func TestBrowserLanguageSwitch(t *testing.T) {
	in, b := browserSignedIn(t, apptest.Options{})

	// A browser that asks for Chinese gets Chinese.
	if got := b.htmlLang(); got != "zh-CN" {
		t.Errorf("<html lang> = %q, want zh-CN", got)
	}
	if got := b.visible("page-title"); got != "概览" {
		t.Errorf("#page-title = %q, want 概览", got)
	}
	if got := b.eval(`document.getElementById("lang-zh-CN").getAttribute("aria-current") || ""`); got != "true" {
		t.Errorf("#lang-zh-CN aria-current = %q, want true", got)
	}

	b.click("lang-en")
	b.wantPath("/")
	if got := b.htmlLang(); got != "en" {
		t.Errorf("after switching: <html lang> = %q, want en", got)
	}
	if got := b.visible("page-title"); got != "Dashboard" {
		t.Errorf("after switching: #page-title = %q, want Dashboard", got)
	}
	if got := b.visible("logout"); got != "Sign out" {
		t.Errorf("after switching: #logout = %q, want Sign out", got)
	}

	// The choice holds on the next page, against the browser's
	// Accept-Language.
	b.open("/account/password")
	if got := b.htmlLang(); got != "en" {
		t.Errorf("next page: <html lang> = %q, want en", got)
	}
	if got := b.visible("page-title"); got != "Change password" {
		t.Errorf("next page: #page-title = %q, want Change password", got)
	}
	b.open("/")
	if got := b.visible("page-title"); got != "Dashboard" {
		t.Errorf("back on the dashboard: #page-title = %q, want Dashboard", got)
	}

	b.click("lang-zh-CN")
	b.wantPath("/")
	if got := b.htmlLang(); got != "zh-CN" {
		t.Errorf("after switching back: <html lang> = %q, want zh-CN", got)
	}
	if got := b.visible("page-title"); got != "概览" {
		t.Errorf("after switching back: #page-title = %q, want 概览", got)
	}
	b.open("/")
	if got := b.visible("page-title"); got != "概览" {
		t.Errorf("next page after switching back: #page-title = %q, want 概览", got)
	}

	// A browser that asks for English gets English without the switch,
	// from the login page on.
	en := browserStart(t, in.URL, "en-US,en")
	en.open("/")
	en.wantPath("/login")
	if got := en.htmlLang(); got != "en" {
		t.Errorf("English browser: <html lang> = %q, want en", got)
	}
	if got := en.visible("login-submit"); got != "Sign in" {
		t.Errorf("English browser: #login-submit = %q, want Sign in", got)
	}
}

func TestBrowserLogout(t *testing.T) {
	_, b := browserSignedIn(t, apptest.Options{})

	session := b.cookie("kith_session")
	if session == nil {
		t.Fatal("no kith_session cookie after signing in")
	}
	if !session.HTTPOnly {
		t.Error("the session cookie is not HttpOnly")
	}

	b.click("logout")
	b.wantPath("/login")
	b.visible("login-submit")
	b.absent("whoami")
	if c := b.cookie("kith_session"); c != nil {
		t.Errorf("the session cookie is still there after signing out: %+v", c)
	}

	// The dashboard sends the browser to sign in again.
	b.open("/")
	u := b.wantPath("/login")
	if next := u.Query().Get("next"); next != "/" {
		t.Errorf("login URL %s has next=%q, want /", u, next)
	}
	b.absent("whoami")

	// The session is gone on the server too: the old cookie, put back,
	// opens nothing.
	_, err := chromedp.Call(b.ctx, network.SetCookie, network.SetCookieParams{
		Name: session.Name, Value: session.Value, URL: b.base + "/",
	})
	if err != nil {
		t.Fatalf("put the old session cookie back: %v", err)
	}
	b.open("/")
	b.wantPath("/login")
	b.absent("whoami")
	b.open("/account/password")
	b.wantPath("/login")
}

func TestBrowserSandboxBanner(t *testing.T) {
	in := apptest.Start(t, apptest.Options{Sandbox: true})
	b := browserStart(t, in.URL, "zh-CN")

	b.open("/login")
	if got := b.visible("sandbox-banner"); !strings.Contains(got, "沙箱") {
		t.Errorf("login page #sandbox-banner = %q, want the sandbox text", got)
	}
	b.signIn("owner", apptest.OwnerPassword)
	b.wantPath("/")
	b.visible("sandbox-banner")
	if got, want := b.visible("status-sandbox"), "开启"; got != want {
		t.Errorf("#status-sandbox = %q, want %q", got, want)
	}
	b.click("lang-en")
	if got := b.visible("sandbox-banner"); !strings.HasPrefix(got, "Sandbox mode") {
		t.Errorf("English #sandbox-banner = %q, want Sandbox mode ...", got)
	}
	if got := b.visible("status-sandbox"); got != "on" {
		t.Errorf("#status-sandbox = %q, want on", got)
	}
	// TestBrowserDashboard checks that an instance without --sandbox shows
	// no banner; the login page must not show one either.
	plain := apptest.Start(t, apptest.Options{})
	b2 := browserStart(t, plain.URL, "zh-CN")
	b2.open("/login")
	b2.visible("login-submit")
	b2.absent("sandbox-banner")
}

func TestBrowserOneTimePassword(t *testing.T) {
	in := apptest.Start(t, apptest.Options{NoAdminPassword: true})
	once := browserOneTimePassword(t, in.Stdout())
	b := browserStart(t, in.URL, "zh-CN")

	b.open("/")
	b.wantPath("/login")
	if status := b.signIn("owner", once); status != 200 {
		t.Fatalf("sign-in with the one-time password answered %d", status)
	}
	b.wantPath("/account/password")
	if got := b.visible("must-change"); !strings.Contains(got, "一次性密码") {
		t.Errorf("#must-change = %q, want the one-time password notice", got)
	}
	b.absent("password-done")

	// Every other page sends the user back until the password is changed.
	b.open("/")
	b.wantPath("/account/password")
	b.visible("must-change")

	// A mismatch is refused and the user stays on the page.
	const newPassword = "a brand new owner passphrase"
	b.typeInto("current", once)
	b.typeInto("new", newPassword)
	b.typeInto("confirm", newPassword+"x")
	b.click("password-submit")
	b.wantPath("/account/password")
	b.visible("password-error")
	b.visible("must-change")

	b.typeInto("current", once)
	b.typeInto("new", newPassword)
	b.typeInto("confirm", newPassword)
	if status := b.click("password-submit"); status != 200 {
		t.Errorf("changing the password answered %d", status)
	}
	u := b.wantPath("/account/password")
	if u.Query().Get("done") != "1" {
		t.Errorf("after the change the page is %s, want done=1", u)
	}
	b.visible("password-done")
	b.absent("must-change")
	b.absent("password-error")

	b.open("/")
	b.wantPath("/")
	if got := b.visible("page-title"); got != "概览" {
		t.Errorf("#page-title = %q, want 概览", got)
	}
	if who := b.visible("whoami"); !strings.Contains(who, "owner") {
		t.Errorf("#whoami = %q, want owner", who)
	}

	// The new password is the one that works now.
	b.click("logout")
	b.wantPath("/login")
	if status := b.signIn("owner", newPassword); status != 200 {
		t.Errorf("the new password answered %d", status)
	}
	b.wantPath("/")
	b.absent("must-change")
}

// browserOneTimePassword reads the owner's one-time password from what the
// instance printed.
func browserOneTimePassword(t *testing.T, stdout string) string {
	t.Helper()
	for _, line := range strings.Split(stdout, "\n") {
		_, after, ok := strings.Cut(line, "password:")
		if !ok {
			continue
		}
		if f := strings.Fields(after); len(f) == 1 {
			return f[0]
		}
	}
	t.Fatalf("no one-time password in the instance's output:\n%s", stdout)
	return ""
}

func TestBrowserCustomers(t *testing.T) {
	in, b := browserSignedIn(t, apptest.Options{})
	seedDirectory(t, mustStore(t, in), 60)

	b.click("nav-customers")
	b.wantPath("/customers")
	if got := b.visible("page-title"); got != "客户" {
		t.Errorf("#page-title = %q, want 客户", got)
	}
	if got := b.visible("customer-total"); got != "共 60 位客户" {
		t.Errorf("#customer-total = %q", got)
	}
	if n := b.eval(`String(document.querySelectorAll("#customer-table tbody tr").length)`); n != "50" {
		t.Errorf("first page has %s rows, want 50", n)
	}
	b.visible("customer-next")
	b.visible("sync-notconfigured")
	b.screenshot("customers")

	// Typing searches as one types: htmx swaps in the results alone and
	// puts the search in the address bar.
	b.typeInto("customer-q", "客户01")
	b.waitFor("live search", `(() => {
		const rows = document.querySelectorAll("#customer-table tbody tr");
		if (rows.length !== 10) return rows.length + " rows";
		if (!new URLSearchParams(location.search).get("q")) return "no q in " + location.search;
		return "ok";
	})()`)
	b.absent("customer-next")
	if got := b.visible("customer-total"); got != "共 60 位客户" {
		t.Errorf("after searching #customer-total = %q: the page was reloaded or lost its head", got)
	}
	// The member filter narrows the live results too.
	b.eval(`(() => {
		const s = document.getElementById("customer-member");
		s.value = "li";
		s.dispatchEvent(new Event("change", {bubbles: true}));
		return "";
	})()`)
	b.waitFor("member filter", `(() => {
		const rows = document.querySelectorAll("#customer-table tbody tr");
		return rows.length === 1 && rows[0].innerText.includes("客户010") ? "ok" : rows.length + " rows";
	})()`)

	// Open a shared customer.
	id := b.eval(`document.querySelector("#customer-table tbody tr").id.replace("customer-", "customer-link-")`)
	b.click(id)
	b.wantPath("/customers/wm010")
	if got := b.visible("page-title"); got != "客户010" {
		t.Errorf("#page-title = %q", got)
	}
	b.visible("rel-wang")
	b.visible("rel-li")
	if got := b.visible("rel-tags-li"); !strings.Contains(got, "门店") {
		t.Errorf("#rel-tags-li = %q, want the tag's name", got)
	}
	b.visible("customer-notconfigured")
	b.screenshot("customer")

	b.click("nav-tags")
	b.wantPath("/tags")
	b.visible("group-grp-level")
	b.visible("tag-create")
	b.screenshot("tags")
}

func TestBrowserSegmentBuilder(t *testing.T) {
	in, b := browserSignedIn(t, apptest.Options{})
	seedDirectory(t, mustStore(t, in), 40) // VIP: every third (13); li follows 10, 20, 30, 40

	b.click("nav-segments")
	b.wantPath("/segments")
	if got := b.visible("page-title"); got != "客户分群" {
		t.Errorf("#page-title = %q", got)
	}
	b.visible("segment-hint")

	// The count comes while one types.
	b.typeInto("expr", "tag:VIP")
	b.waitFor("count while typing", `(() => {
		const c = document.getElementById("segment-count");
		return c && c.innerText === "13" ? "ok" : (c ? c.innerText : "no count");
	})()`)
	// A clicked term is added with "and".
	b.eval(`(() => { document.querySelector('#segment-terms button[title="member:li"]').click(); return ""; })()`)
	b.waitFor("clicked term", `(() => {
		const e = document.getElementById("expr"), c = document.getElementById("segment-count");
		if (e.value !== "tag:VIP and member:li") return "expr " + e.value;
		// kith.js puts the caret at the end once htmx has settled the swap.
		if (document.activeElement !== e || e.selectionStart !== e.value.length) return "caret at " + e.selectionStart;
		return c && c.innerText === "1" ? "ok" : (c ? c.innerText : "no count");
	})()`)
	// A mistake is shown under the text, at its column.
	b.typeInto("expr", " and ordrs > 1")
	b.waitFor("mistake", `(() => {
		const e = document.getElementById("segment-error");
		const x = document.getElementById("expr");
		return e && e.innerText.includes("第 27 列") ? "ok" : (e ? e.innerText : "no error; expr " + JSON.stringify(x.value) + ", preview " + document.getElementById("segment-preview").innerText.slice(0, 80));
	})()`)
	b.visible("segment-caret")
	b.eval(`(() => { const e = document.getElementById("expr"); e.value = "tag:VIP and member:li"; e.dispatchEvent(new Event("input", {bubbles: true})); return ""; })()`)
	b.waitFor("fixed", `document.getElementById("segment-count") ? "ok" : "no count"`)
	b.eval(`(() => { document.getElementById("segment-sample-button").click(); return ""; })()`)
	b.waitFor("sample", `(() => {
		const rows = document.querySelectorAll("#segment-sample tbody tr");
		return rows.length === 1 && rows[0].innerText.includes("客户030") ? "ok" : rows.length + " rows";
	})()`)
	b.screenshot("segments")

	b.typeInto("segment-name", "李雷的VIP")
	b.click("segment-save")
	u := b.location()
	if !strings.HasPrefix(u.Path, "/segments/") || u.Query().Get("done") != "saved" {
		t.Fatalf("after saving: %s", u)
	}
	if got := b.visible("segment-count"); got != "1" {
		t.Errorf("saved segment counts %q", got)
	}
	if got := b.visible("segment-expression"); got != "tag:VIP and member:li" {
		t.Errorf("saved expression %q", got)
	}
}
