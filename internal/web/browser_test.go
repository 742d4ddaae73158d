package web_test

// Browser tests: a whole Kith instance (apptest) driven by a real headless
// Chromium through chromedp. They check what a person sees in the console:
// the redirect to the login form, sign-in errors, the dashboard, the language
// switch, sign-out, the sandbox banner and the one-time password flow.
//
// The tests look for the browser in $KITH_CHROMIUM, /usr/bin/chromium and then
// on $PATH; without one they skip, or fail when $KITH_REQUIRE_CHROMIUM is set
// (as in CI). Set KITH_BROWSER_SCREENSHOT=/some/file.png
// to keep a copy of the dashboard screenshot for a look.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/kith-scrm/kith/internal/app/apptest"
)

// browserTimeout bounds one whole test's browser work, so a hang fails the
// test instead of blocking the run.
const browserTimeout = 60 * time.Second

// browserExecPath finds a Chromium to run, or skips the test.
func browserExecPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("KITH_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("KITH_CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	names := []string{"chromium", "chromium-browser", "google-chrome"}
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("browser tests need Chromium: looked for $KITH_CHROMIUM, /usr/bin/chromium and %s on $PATH; install it with `apt-get install chromium` or set KITH_CHROMIUM to the binary", strings.Join(names, ", "))
	if os.Getenv("KITH_REQUIRE_CHROMIUM") != "" {
		t.Fatal(msg + " (KITH_REQUIRE_CHROMIUM is set, so the tests may not skip)")
	}
	t.Skip(msg)
	return ""
}

// browser is one headless Chromium with one tab, for one test.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string // the instance's URL

	mu       sync.Mutex
	problems []string // console errors and uncaught exceptions
}

// browserStart starts Chromium for the instance at base, with the browser's
// Accept-Language set to acceptLang. Start the instance first, so the browser
// is closed before the instance stops.
func browserStart(t *testing.T, base, acceptLang string) *browser {
	t.Helper()
	execPath := browserExecPath(t)
	timeout, cancelTimeout := context.WithTimeout(context.Background(), browserTimeout)
	chromeOut := &apptest.SyncBuffer{}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(timeout,
		chromedp.ExecPath(execPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("accept-lang", acceptLang),
		chromedp.Flag("lang", acceptLang),
		chromedp.WindowSize(1280, 800),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.CombinedOutput(chromeOut),
	)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	b := &browser{t: t, ctx: ctx, base: base}
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
		cancelTimeout()
	})
	// Start the browser and its tab now, so a failure to start shows here.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v\n%s", execPath, err, chromeOut.String())
	}
	if err := chromedp.Listen(ctx, b.onEvent); err != nil {
		t.Fatal(err)
	}
	// Runs before the cleanup above (cleanups run last first), so the
	// browser is still there.
	t.Cleanup(b.checkConsole)
	return b
}

// onEvent records console errors and uncaught exceptions. It runs on the
// tab's reader goroutine, so it must return fast and run no command.
func (b *browser) onEvent(ev any) {
	var p string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		p = "exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			p += " " + ev.ExceptionDetails.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError {
			return
		}
		var parts []string
		for _, a := range ev.Args {
			parts = append(parts, string(a.Value)+a.Description)
		}
		p = "console.error: " + strings.Join(parts, " ")
	case *log.EventEntryAdded:
		// A 401 answer to a wrong password or a missing favicon is a
		// "network" error entry; those are expected.
		if ev.Entry.Level != log.EntryLevelError || ev.Entry.Source == log.EntrySourceNetwork {
			return
		}
		p = fmt.Sprintf("%s error: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
	default:
		return
	}
	b.mu.Lock()
	b.problems = append(b.problems, p)
	b.mu.Unlock()
}

// checkConsole fails the test if a page logged an error, such as a Content
// Security Policy violation or a script error.
func (b *browser) checkConsole() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		b.t.Errorf("browser console: %s", p)
	}
}

// browserStepTimeout bounds one navigation or click, so a step that can
// never finish (a click on a disabled button) fails fast.
const browserStepTimeout = 20 * time.Second

// browserRun runs one action with the step timeout.
func browserRun[T any](b *browser, a chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	return chromedp.Run(ctx, a)
}

// do runs actions and fails the test on an error.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if _, err := browserRun(b, chromedp.Steps(actions...)); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// open navigates to path on the instance and waits for the page to load.
func (b *browser) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path))
}

// click clicks the element with the id, which must submit a form, and waits
// for the new page. It returns the HTTP status of the last page.
func (b *browser) click(id string) int64 {
	b.t.Helper()
	// A click that cannot submit would wait for a page that never comes.
	idJSON, _ := json.Marshal(id)
	why := b.eval(fmt.Sprintf(`(() => {
		const e = document.getElementById(%s);
		if (!e) return "there is no such element";
		if (e.disabled) return "it is disabled";
		if (e.form && !e.form.checkValidity())
			return "its form is not valid: " + Array.from(e.form.elements).filter(x => x.willValidate && !x.checkValidity()).map(x => x.name + ": " + x.validationMessage).join("; ");
		return "";
	})()`, idJSON))
	if why != "" {
		b.t.Fatalf("cannot click #%s on %s: %s", id, b.location(), why)
	}
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID(id)))
	if err != nil {
		b.t.Fatalf("click #%s: %v", id, err)
	}
	if resp == nil {
		b.t.Fatalf("click #%s: no response", id)
	}
	return resp.Status
}

// typeInto types text into the input with the id.
func (b *browser) typeInto(id, text string) {
	b.t.Helper()
	b.do("type into #"+id, chromedp.SendKeys(chromedp.ID(id), text))
}

// location returns the page's URL.
func (b *browser) location() *url.URL {
	b.t.Helper()
	loc, err := browserRun(b, chromedp.Location())
	if err != nil {
		b.t.Fatalf("location: %v", err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		b.t.Fatalf("location %q: %v", loc, err)
	}
	return u
}

// wantPath fails the test unless the page's path is path.
func (b *browser) wantPath(path string) *url.URL {
	b.t.Helper()
	u := b.location()
	if u.Path != path {
		b.t.Fatalf("page is %s, want path %s", u, path)
	}
	return u
}

// browserElement is what the page says about one element.
type browserElement struct {
	Found   bool   `json:"found"`
	Visible bool   `json:"visible"`
	Text    string `json:"text"`  // innerText, as shown
	Value   string `json:"value"` // for inputs
}

// element looks up the element with the id now, without waiting.
func (b *browser) element(id string) browserElement {
	b.t.Helper()
	idJSON, _ := json.Marshal(id)
	js := fmt.Sprintf(`(() => {
		const e = document.getElementById(%s);
		if (!e) return {found: false, visible: false, text: "", value: ""};
		const s = getComputedStyle(e), r = e.getBoundingClientRect();
		return {
			found: true,
			visible: s.display !== "none" && s.visibility !== "hidden" && r.width > 0 && r.height > 0,
			text: e.innerText.trim(),
			value: typeof e.value === "string" ? e.value : "",
		};
	})()`, idJSON)
	el, err := browserRun(b, chromedp.Evaluate[browserElement](js))
	if err != nil {
		b.t.Fatalf("look up #%s: %v", id, err)
	}
	return el
}

// visible fails the test unless the element with the id is shown, and
// returns its text.
func (b *browser) visible(id string) string {
	b.t.Helper()
	el := b.element(id)
	if !el.Found || !el.Visible {
		b.t.Fatalf("#%s: found=%v visible=%v on %s, want it shown", id, el.Found, el.Visible, b.location())
	}
	return el.Text
}

// absent fails the test if the page has an element with the id.
func (b *browser) absent(id string) {
	b.t.Helper()
	if el := b.element(id); el.Found {
		b.t.Errorf("#%s is on %s (text %q), want none", id, b.location(), el.Text)
	}
}

// eval evaluates a JavaScript expression that gives a string.
func (b *browser) eval(js string) string {
	b.t.Helper()
	s, err := browserRun(b, chromedp.Evaluate[string](js))
	if err != nil {
		b.t.Fatalf("eval %s: %v", js, err)
	}
	return s
}

// cookie returns the browser's cookie for the instance with the name, or nil.
func (b *browser) cookie(name string) *network.Cookie {
	b.t.Helper()
	res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{b.base + "/"}})
	if err != nil {
		b.t.Fatalf("read cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// htmlLang returns the lang attribute of the page's <html>.
func (b *browser) htmlLang() string {
	b.t.Helper()
	return b.eval(`document.documentElement.lang`)
}

// signIn fills the login form on the current page and submits it.
func (b *browser) signIn(user, password string) int64 {
	b.t.Helper()
	if user != "" { // else keep what the form holds
		b.typeInto("username", user)
	}
	b.typeInto("password", password)
	return b.click("login-submit")
}

// browserSignedIn starts an instance and a browser and signs in as owner; it
// leaves the browser on the dashboard.
func browserSignedIn(t *testing.T, o apptest.Options) (*apptest.Instance, *browser) {
	t.Helper()
	in := apptest.Start(t, o)
	b := browserStart(t, in.URL, "zh-CN")
	b.open("/login")
	if status := b.signIn("owner", apptest.OwnerPassword); status != 200 {
		t.Fatalf("sign-in ended with status %d on %s", status, b.location())
	}
	b.wantPath("/")
	return in, b
}

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
