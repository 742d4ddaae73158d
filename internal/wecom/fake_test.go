package wecom

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
)

// A tiny fake of the WeCom endpoints, enough to test the client. The full
// sandbox is package wecomtest.

const (
	testCorpID = "wwCorpTest0001"
	testSecret = "SECRET-must-never-leak-0123456789"
)

// recorded is one request the fake received.
type recorded struct {
	Method string
	Query  url.Values
	Body   []byte
}

type fakeWeCom struct {
	t   testing.TB
	srv *httptest.Server

	mu        sync.Mutex
	calls     map[string]int // API path below /cgi-bin/ → requests
	requests  map[string][]recorded
	issued    int
	valid     map[string]bool
	expiresIn int
	handlers  map[string]http.HandlerFunc
}

func newFake(t testing.TB) *fakeWeCom {
	t.Helper()
	f := &fakeWeCom{t: t, calls: map[string]int{}, requests: map[string][]recorded{}, valid: map[string]bool{}, expiresIn: 7200, handlers: map[string]http.HandlerFunc{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// tokenName is the n-th token the fake issues; long and distinctive, so a
// leak in an error or a log is found by a plain substring search.
func tokenName(n int) string { return fmt.Sprintf("TOKEN-%04d-must-never-leak", n) }

func (f *fakeWeCom) serve(w http.ResponseWriter, r *http.Request) {
	api, ok := strings.CutPrefix(r.URL.Path, "/cgi-bin/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	f.mu.Lock()
	f.calls[api]++
	f.requests[api] = append(f.requests[api], recorded{Method: r.Method, Query: r.URL.Query(), Body: body})
	h := f.handlers[api]
	valid := f.valid[r.URL.Query().Get("access_token")]
	f.mu.Unlock()
	switch {
	case h != nil:
		h(w, r)
	case api == "gettoken":
		f.gettoken(w, r)
	case !valid:
		writeJSON(w, map[string]any{"errcode": CodeInvalidToken, "errmsg": "invalid access_token"})
	default:
		writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok"})
	}
}

// gettoken is the fake's default token endpoint.
func (f *fakeWeCom) gettoken(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("corpid") != testCorpID {
		writeJSON(w, map[string]any{"errcode": CodeInvalidCorpID, "errmsg": "invalid corpid"})
		return
	}
	if q.Get("corpsecret") != testSecret {
		// Echo the secret, as a careless server might: the client must not.
		writeJSON(w, map[string]any{"errcode": CodeInvalidSecret, "errmsg": "invalid credential: " + q.Get("corpsecret")})
		return
	}
	f.mu.Lock()
	f.issued++
	tok := tokenName(f.issued)
	f.valid[tok] = true
	exp := f.expiresIn
	f.mu.Unlock()
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "access_token": tok, "expires_in": exp})
}

// handle sets the handler of one API path; it runs whatever the token.
func (f *fakeWeCom) handle(api string, h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handlers[api] = h
}

// handleValid sets a handler that runs only with a valid token; otherwise
// the fake answers 40014 as WeCom does.
func (f *fakeWeCom) handleValid(api string, h http.HandlerFunc) {
	f.handle(api, func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		ok := f.valid[r.URL.Query().Get("access_token")]
		f.mu.Unlock()
		if !ok {
			writeJSON(w, map[string]any{"errcode": CodeInvalidToken, "errmsg": "invalid access_token"})
			return
		}
		h(w, r)
	})
}

// invalidateTokens makes every issued token invalid, as WeCom may do early.
func (f *fakeWeCom) invalidateTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.valid = map[string]bool{}
}

func (f *fakeWeCom) count(api string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[api]
}

func (f *fakeWeCom) requestsTo(api string) []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.requests[api]...)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	json.NewEncoder(w).Encode(v)
}

// answerFile answers with a file from testdata.
func answerFile(t testing.TB, name string) http.HandlerFunc {
	b := mustRead(t, name)
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.Write(b)
	}
}

// answerCodes answers each request with the next code of codes (0 = the ok
// body), then ok forever.
func answerCodes(okBody string, codes ...int) http.HandlerFunc {
	var mu sync.Mutex
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		code := 0
		if len(codes) > 0 {
			code, codes = codes[0], codes[1:]
		}
		mu.Unlock()
		if code != 0 {
			writeJSON(w, map[string]any{"errcode": code, "errmsg": "try later"})
			return
		}
		w.Write([]byte(okBody))
	}
}

func mustRead(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// harness is a Client on a fake, with a fixed clock and a sleep that only
// moves the clock and records how long it would have slept.
type harness struct {
	*Client
	fake  *fakeWeCom
	clock *kith.FixedClock
	logs  *syncBuffer

	mu     sync.Mutex
	sleeps []time.Duration
}

func newHarness(t testing.TB, edit func(*Config)) *harness {
	t.Helper()
	f := newFake(t)
	h := &harness{fake: f, clock: kith.NewFixedClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)), logs: &syncBuffer{}}
	cfg := Config{
		BaseURL:    f.srv.URL,
		CorpID:     testCorpID,
		Secret:     testSecret,
		AgentID:    1000002,
		HTTPClient: f.srv.Client(),
		Logger:     slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:        h.clock.Now,
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.sleep = h.fakeSleep
	h.Client = c
	t.Cleanup(func() { h.assertNoLeak(t, h.logs.String(), "logs") })
	return h
}

func (h *harness) fakeSleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	h.mu.Lock()
	h.sleeps = append(h.sleeps, d)
	h.mu.Unlock()
	h.clock.Add(d)
	return nil
}

func (h *harness) slept() []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Duration(nil), h.sleeps...)
}

// assertNoLeak fails if s holds the secret or any token the fake issued.
func (h *harness) assertNoLeak(t testing.TB, s, what string) {
	t.Helper()
	if strings.Contains(s, testSecret) {
		t.Errorf("%s contain the secret: %s", what, s)
	}
	h.fake.mu.Lock()
	n := h.fake.issued
	h.fake.mu.Unlock()
	for i := 1; i <= n; i++ {
		if strings.Contains(s, tokenName(i)) {
			t.Errorf("%s contain an access token: %s", what, s)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// assertJSONEqual compares two JSON texts as values.
func assertJSONEqual(t testing.TB, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got is not JSON: %v: %s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want is not JSON: %v: %s", err, want)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("JSON differs\n got: %s\nwant: %s", got, want)
	}
}
