package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/gate"
	"github.com/kith-scrm/kith/internal/jobs"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/obs"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

func quietServer(t testing.TB) *Server {
	t.Helper()
	s, err := New(Deps{Metrics: obs.New(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPanicsAnswer500AndAreCounted(t *testing.T) {
	s := quietServer(t)
	h := s.recoverPanics(s.observe(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if rec.Code != 500 {
		t.Fatalf("panic answered %d", rec.Code)
	}
}

func TestReadyzReportsWhatIsWrong(t *testing.T) {
	db := storetest.MustSQLite(t)
	j, err := jobs.New(db, jobs.Config{Node: "n", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Deps{DB: db, Jobs: j, Metrics: obs.New(), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: kith.SystemClock{},
		Auth: auth.NewService(db, kith.SystemClock{}, auth.HashParams{Memory: 1024, Time: 1, Threads: 1}, slog.New(slog.NewTextHandler(io.Discard, nil)))})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), `"jobs": "stopped"`) || !strings.Contains(rec.Body.String(), `"database": "ok"`) {
		t.Fatalf("jobs not running: %d %s", rec.Code, rec.Body)
	}
	db.Close()
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), `"database": "unreachable"`) {
		t.Fatalf("database closed: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 200 {
		t.Fatalf("healthz with the database down: %d", rec.Code)
	}
}

// FuzzSafeNext checks that no "next" value sends a signed-in person to
// another site.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "/status?x=1", "//evil.example", "/\\evil", "https://evil.example", "/%2F%2Fevil", "/\t/evil", "\n/", ""} {
		f.Add(s)
	}
	base, _ := url.Parse("http://kith.local/login")
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if !strings.HasPrefix(got, "/") {
			t.Fatalf("safeNext(%q) = %q, not a path", next, got)
		}
		u, err := base.Parse(got)
		if err != nil {
			if got != next {
				t.Fatalf("safeNext(%q) = %q, unparsable", next, got)
			}
			return // a browser cannot follow it anywhere either
		}
		if u.Host != "kith.local" {
			t.Fatalf("safeNext(%q) = %q leads to host %q", next, got, u.Host)
		}
	})
}

// FuzzDecodeJSON checks that any body gets either a decoded value or an
// EINVALID error, never a panic or an internal error.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"count": 1}`, `{"count": "x"}`, `{`, ``, `[]`, `{"count": 1} 2`, `{"nope": 1}`, "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var v probeRequest
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		err := decodeJSON(httptest.NewRecorder(), req, &v)
		if err != nil && kith.ErrorCode(err) != kith.EINVALID {
			t.Fatalf("decodeJSON(%q) = %v, want EINVALID", body, err)
		}
	})
}

func TestWhenUsesTheInstanceTimeZone(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 30, 16, 30, 0, 0, time.UTC)
	if got := whenIn(sh)(at); got != "2026-12-01 00:30" {
		t.Fatalf("when in Shanghai = %q", got)
	}
	if got := whenIn(time.UTC)(&at); got != "2026-11-30 16:30" {
		t.Fatalf("when in UTC = %q", got)
	}
	var none *time.Time
	if got := whenIn(sh)(none); got != "" {
		t.Fatalf("when(nil) = %q", got)
	}
}

func TestGateDecisionsOnMetrics(t *testing.T) {
	db := storetest.MustSQLite(t)
	g := gate.New(db, []byte("0123456789abcdef0123456789abcdef"), kith.SystemClock{})
	m := obs.New()
	if _, err := New(Deps{Metrics: m, Gate: g, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 3 {
		g.Decide(ctx, gate.Request{Person: consent.ExternalUser("wm-x"), Channel: consent.ChannelWeCom, Class: gate.Marketing, Content: gate.Content{Body: "hi"}})
	}
	g.Decide(ctx, gate.Request{Channel: consent.ChannelWeCom, Class: gate.Marketing})
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{`kith_gate_decisions_total{reason="NO_CONSENT"} 3`, `kith_gate_decisions_total{reason="INVALID_REQUEST"} 1`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %s:\n%s", want, grepLines(rec.Body.String(), "kith_gate"))
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
