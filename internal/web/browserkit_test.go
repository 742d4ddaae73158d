package web_test

// The browser kit: one headless Chromium per test, driven through chromedp,
// and the checks the browser tests share (see browser_test.go).

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

// waitFor polls a JavaScript condition until it gives "ok", and fails the
// test with its last answer after the step timeout.
func (b *browser) waitFor(what, js string) {
	b.t.Helper()
	last := ""
	for deadline := time.Now().Add(browserStepTimeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if last = b.eval(js); last == "ok" {
			return
		}
	}
	b.t.Fatalf("%s: still %q on %s", what, last, b.location())
}

// screenshot takes a full-page screenshot, checks that nothing overflows
// the window sideways, and keeps a copy in $KITH_BROWSER_SCREENSHOT_DIR.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	if w := b.eval(`String(document.documentElement.scrollWidth)`); w != "1280" {
		b.t.Errorf("%s is %s px wide in a 1280 px window", name, w)
	}
	shot, err := browserRun(b, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	if _, err := png.Decode(bytes.NewReader(shot)); err != nil {
		b.t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if dir := os.Getenv("KITH_BROWSER_SCREENSHOT_DIR"); dir != "" {
		path := filepath.Join(dir, name+".png")
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			b.t.Fatal(err)
		}
		b.t.Logf("screenshot written to %s", path)
	}
}
