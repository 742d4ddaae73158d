package wecom

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

const followOK = `{"errcode":0,"errmsg":"ok","follow_user":["zhangsan"]}`

func TestNewValidatesConfig(t *testing.T) {
	good := Config{CorpID: testCorpID, Secret: testSecret}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no corp", func(c *Config) { c.CorpID = "" }, "CorpID is empty"},
		{"spaced corp", func(c *Config) { c.CorpID = " ww1 " }, "CorpID has spaces"},
		{"no secret", func(c *Config) { c.Secret = "" }, "Secret is empty"},
		{"spaced secret", func(c *Config) { c.Secret = testSecret + "\n" }, "Secret has spaces"},
		{"negative agent", func(c *Config) { c.AgentID = -1 }, "AgentID -1 is negative"},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "Timeout -1s is negative"},
		{"negative rate", func(c *Config) { c.RatePerSecond = -1 }, "RatePerSecond -1 is not a positive number"},
		{"ftp base", func(c *Config) { c.BaseURL = "ftp://qyapi.weixin.qq.com" }, "must start with https://"},
		{"no host", func(c *Config) { c.BaseURL = "https://" }, "has no host"},
		{"query in base", func(c *Config) { c.BaseURL = "https://qyapi.weixin.qq.com/?debug=1" }, "scheme, host and optional path only"},
		{"bad url", func(c *Config) { c.BaseURL = "http://[::1" }, "is not a URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.edit(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v; want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("error holds the secret: %v", err)
			}
		})
	}
	c, err := New(good)
	if err != nil {
		t.Fatal(err)
	}
	if c.base != DefaultBaseURL || c.timeout != DefaultTimeout || c.maxRetries != DefaultMaxRetries || c.limit.rate != DefaultRatePerSecond {
		t.Errorf("defaults: base %q timeout %s retries %d rate %v", c.base, c.timeout, c.maxRetries, c.limit.rate)
	}
	c, _ = New(Config{CorpID: testCorpID, Secret: testSecret, MaxRetries: -1, BaseURL: "http://127.0.0.1:9/sandbox/"})
	if c.maxRetries != 0 || c.base != "http://127.0.0.1:9/sandbox" {
		t.Errorf("MaxRetries -1 gave %d retries, base %q", c.maxRetries, c.base)
	}
}

func TestConfigNeverPrintsSecret(t *testing.T) {
	cfg := Config{CorpID: testCorpID, Secret: testSecret}
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), cfg.LogValue().String()} {
		if strings.Contains(s, testSecret) || !strings.Contains(s, testCorpID) {
			t.Errorf("config printed as %s", s)
		}
	}
}

func TestDefaultRateStaysUnderWeComLimit(t *testing.T) {
	l := newLimiter(DefaultRatePerSecond, time.Now, sleepCtx)
	// At most burst + 60×rate calls start in any minute; WeCom allows 10 000.
	if perMinute := l.burst + 60*l.rate; perMinute >= 10000 {
		t.Errorf("default allows %v calls a minute", perMinute)
	}
}

func TestTokenCachedAndReused(t *testing.T) {
	h := newHarness(t, nil)
	h.fake.handleValid("externalcontact/get_follow_user_list", answerCodes(followOK))
	for range 3 {
		if _, err := h.FollowUserList(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := h.fake.count("gettoken"); n != 1 {
		t.Errorf("gettoken called %d times; want 1", n)
	}
	for _, r := range h.fake.requestsTo("externalcontact/get_follow_user_list") {
		if got := r.Query.Get("access_token"); got != tokenName(1) {
			t.Errorf("access_token = %q; want %q", got, tokenName(1))
		}
	}
	g := h.fake.requestsTo("gettoken")[0]
	if g.Method != http.MethodGet || g.Query.Get("corpid") != testCorpID || g.Query.Get("corpsecret") != testSecret {
		t.Errorf("gettoken request = %s %v", g.Method, g.Query)
	}
}

func TestTokenFetchedOnceForConcurrentCallers(t *testing.T) {
	h := newHarness(t, nil)
	const callers = 50
	var started sync.WaitGroup
	started.Add(callers)
	release := make(chan struct{})
	h.fake.handle("gettoken", func(w http.ResponseWriter, r *http.Request) {
		<-release // hold the fetch until every caller is under way
		h.fake.gettoken(w, r)
	})
	h.fake.handleValid("externalcontact/get_follow_user_list", answerCodes(followOK))
	errs := make(chan error, callers)
	for range callers {
		go func() {
			started.Done()
			_, err := h.FollowUserList(context.Background())
			errs <- err
		}()
	}
	started.Wait()
	close(release)
	for range callers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := h.fake.count("gettoken"); n != 1 {
		t.Errorf("gettoken called %d times for %d callers; want 1", n, callers)
	}
	if n := h.fake.count("externalcontact/get_follow_user_list"); n != callers {
		t.Errorf("API called %d times; want %d", n, callers)
	}
}

func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	h := newHarness(t, nil)
	h.fake.handleValid("externalcontact/get_follow_user_list", answerCodes(followOK))
	call := func() string {
		t.Helper()
		if _, err := h.FollowUserList(context.Background()); err != nil {
			t.Fatal(err)
		}
		reqs := h.fake.requestsTo("externalcontact/get_follow_user_list")
		return reqs[len(reqs)-1].Query.Get("access_token")
	}
	if tok := call(); tok != tokenName(1) {
		t.Fatalf("first call used %q", tok)
	}
	h.clock.Add(7200*time.Second - 5*time.Minute - time.Second)
	if tok := call(); tok != tokenName(1) {
		t.Errorf("just before the refresh point the call used %q; want the cached token", tok)
	}
	h.clock.Add(2 * time.Second)
	if tok := call(); tok != tokenName(2) {
		t.Errorf("5 minutes before expiry the call used %q; want a new token", tok)
	}
	if n := h.fake.count("gettoken"); n != 2 {
		t.Errorf("gettoken called %d times; want 2", n)
	}
}

func TestTokenRefusedIsFetchedAgainOnce(t *testing.T) {
	for _, code := range []int{CodeInvalidToken, CodeTokenExpired} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			h := newHarness(t, nil)
			api := "externalcontact/get_follow_user_list"
			h.fake.handleValid(api, answerCodes(followOK))
			if _, err := h.FollowUserList(context.Background()); err != nil {
				t.Fatal(err)
			}
			// WeCom ends the token early and answers code once.
			h.fake.invalidateTokens()
			h.fake.handle(api, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("access_token") == tokenName(1) {
					writeJSON(w, map[string]any{"errcode": code, "errmsg": "access_token " + tokenName(1) + " is no good"})
					return
				}
				w.Write([]byte(followOK))
			})
			users, err := h.FollowUserList(context.Background())
			if err != nil || len(users) != 1 {
				t.Fatalf("FollowUserList = %v, %v", users, err)
			}
			if n := h.fake.count("gettoken"); n != 2 {
				t.Errorf("gettoken called %d times; want 2", n)
			}
			reqs := h.fake.requestsTo(api)
			if len(reqs) != 3 || reqs[2].Query.Get("access_token") != tokenName(2) {
				t.Errorf("API requests %d, last token %q", len(reqs), reqs[len(reqs)-1].Query.Get("access_token"))
			}
		})
	}
}

func TestTokenThatStaysRefusedDoesNotLoop(t *testing.T) {
	h := newHarness(t, nil)
	api := "externalcontact/get_follow_user_list"
	h.fake.handle(api, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"errcode": CodeInvalidToken, "errmsg": "invalid access_token: " + r.URL.Query().Get("access_token")})
	})
	_, err := h.FollowUserList(context.Background())
	if ErrorCode(err) != CodeInvalidToken {
		t.Fatalf("err = %v; want errcode %d", err, CodeInvalidToken)
	}
	if g, a := h.fake.count("gettoken"), h.fake.count(api); g != 2 || a != 2 {
		t.Errorf("gettoken %d, API %d calls; want 2 and 2", g, a)
	}
	h.assertNoLeak(t, err.Error(), "error")
	var we *Error
	if !errors.As(err, &we) || we.API != api || !strings.Contains(we.Message, "[redacted]") {
		t.Errorf("error = %#v", we)
	}
}

func TestRefusedSecretIsNotRetriedForAMinute(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Secret = "wrong-" + testSecret })
	for range 3 {
		_, err := h.FollowUserList(context.Background())
		if ErrorCode(err) != CodeInvalidSecret {
			t.Fatalf("err = %v; want errcode %d", err, CodeInvalidSecret)
		}
		if strings.Contains(err.Error(), "wrong-") {
			t.Errorf("error holds the secret: %v", err)
		}
	}
	if n := h.fake.count("gettoken"); n != 1 {
		t.Errorf("gettoken called %d times within the pause; want 1", n)
	}
	h.clock.Add(credentialPause + time.Second)
	h.FollowUserList(context.Background())
	if n := h.fake.count("gettoken"); n != 2 {
		t.Errorf("gettoken called %d times after the pause; want 2", n)
	}
	if strings.Contains(h.logs.String(), "wrong-") {
		t.Errorf("logs hold the secret")
	}
}

func TestFailedRefreshKeepsTheCurrentToken(t *testing.T) {
	h := newHarness(t, nil)
	api := "externalcontact/get_follow_user_list"
	h.fake.handleValid(api, answerCodes(followOK))
	if _, err := h.FollowUserList(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.fake.handle("gettoken", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"errcode": CodeInvalidSecret, "errmsg": "secret reset"})
	})
	h.clock.Add(7200*time.Second - time.Minute) // past the refresh point, before expiry
	for range 2 {
		if _, err := h.FollowUserList(context.Background()); err != nil {
			t.Fatalf("a failed refresh broke a call while the token was valid: %v", err)
		}
	}
	h.clock.Add(2 * time.Minute) // now expired
	if _, err := h.FollowUserList(context.Background()); ErrorCode(err) != CodeInvalidSecret {
		t.Errorf("after expiry err = %v; want errcode %d", err, CodeInvalidSecret)
	}
}

func TestTokenCacheSharedByClients(t *testing.T) {
	f := newFake(t)
	f.handleValid("externalcontact/get_follow_user_list", answerCodes(followOK))
	cache := NewTokenCache()
	mk := func(secret string) *Client {
		c, err := New(Config{BaseURL: f.srv.URL, CorpID: testCorpID, Secret: secret, Tokens: cache, HTTPClient: f.srv.Client()})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b, other := mk(testSecret), mk(testSecret), mk("another-app-secret")
	for _, c := range []*Client{a, b, other} {
		c.FollowUserList(context.Background())
	}
	// a and b are the same app; other is another app (here refused).
	if n := f.count("gettoken"); n != 2 {
		t.Errorf("gettoken called %d times; want 2", n)
	}
}

func TestBusyAnswersAreRetriedWithBackoff(t *testing.T) {
	for _, code := range []int{CodeBusy, CodeRateLimited, CodeConcurrency} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			h := newHarness(t, nil)
			h.jitter = func(d time.Duration) time.Duration { return d - 1 } // the top of the range
			api := "externalcontact/get_follow_user_list"
			h.fake.handleValid(api, answerCodes(followOK, code, code))
			if _, err := h.FollowUserList(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := h.fake.count(api); n != 3 {
				t.Errorf("API called %d times; want 3", n)
			}
			want := []time.Duration{backoffBase - 1, 2*backoffBase - 1}
			if got := h.slept(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("slept %v; want %v", got, want)
			}
		})
	}
}

func TestBackoffJitterStaysInRange(t *testing.T) {
	h := newHarness(t, nil)
	for n := range 8 {
		d := min(backoffMax, backoffBase<<n)
		for range 50 {
			h.mu.Lock()
			h.sleeps = nil
			h.mu.Unlock()
			h.backoff(context.Background(), "x", CodeBusy, n)
			if got := h.slept()[0]; got < d/2 || got >= d {
				t.Fatalf("retry %d slept %s; want [%s, %s)", n+1, got, d/2, d)
			}
		}
	}
}

func TestBusyRetriesAreBounded(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxRetries = 2 })
	api := "externalcontact/get_follow_user_list"
	h.fake.handleValid(api, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"errcode": CodeConcurrency, "errmsg": "api concurrent out of limit"})
	})
	_, err := h.FollowUserList(context.Background())
	var we *Error
	if !errors.As(err, &we) || we.Code != CodeConcurrency || we.API != api {
		t.Fatalf("err = %v; want *Error %d", err, CodeConcurrency)
	}
	if n := h.fake.count(api); n != 3 {
		t.Errorf("API called %d times; want 1 + MaxRetries = 3", n)
	}
	if n := len(h.slept()); n != 2 {
		t.Errorf("slept %d times; want 2", n)
	}
}

func TestOtherErrorsAreNotRetried(t *testing.T) {
	h := newHarness(t, nil)
	api := "externalcontact/get_follow_user_list"
	h.fake.handleValid(api, answerCodes(followOK, CodeNoPermission))
	_, err := h.FollowUserList(context.Background())
	if ErrorCode(err) != CodeNoPermission || h.fake.count(api) != 1 || len(h.slept()) != 0 {
		t.Errorf("err %v after %d calls and %d sleeps", err, h.fake.count(api), len(h.slept()))
	}
}

func TestCancelStopsRetries(t *testing.T) {
	h := newHarness(t, nil)
	api := "externalcontact/get_follow_user_list"
	h.fake.handleValid(api, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"errcode": CodeRateLimited, "errmsg": "api freq out of limit"})
	})
	ctx, cancel := context.WithCancel(context.Background())
	h.sleep = func(ctx context.Context, d time.Duration) error {
		cancel() // the caller gives up during the first backoff
		return sleepCtx(ctx, d)
	}
	_, err := h.FollowUserList(ctx)
	if !errors.Is(err, context.Canceled) || ErrorCode(err) != CodeRateLimited {
		t.Fatalf("err = %v; want context.Canceled and errcode %d", err, CodeRateLimited)
	}
	if n := h.fake.count(api); n != 1 {
		t.Errorf("API called %d times after cancel; want 1", n)
	}
}

func TestCancelWhileWaitingForToken(t *testing.T) {
	h := newHarness(t, nil)
	h.fake.handleValid("externalcontact/get_follow_user_list", answerCodes(followOK))
	arrived, release := make(chan struct{}), make(chan struct{})
	h.fake.handle("gettoken", func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		h.fake.gettoken(w, r)
	})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		_, err := h.FollowUserList(ctx)
		errc <- err
	}()
	<-arrived
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v; want context.Canceled", err)
	}
	// The fetch went on for others: its token is cached.
	close(release)
	if _, err := h.FollowUserList(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := h.fake.count("gettoken"); n != 1 {
		t.Errorf("gettoken called %d times; want 1", n)
	}
}

func TestTimeout(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Timeout = 50 * time.Millisecond })
	h.fake.handle("externalcontact/get_follow_user_list", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	_, err := h.FollowUserList(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer within 50ms") {
		t.Fatalf("err = %v", err)
	}
	h.assertNoLeak(t, err.Error(), "error")
}

func TestBadAnswers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		handle http.HandlerFunc
		want   string
	}{
		{"status", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "bad gateway "+r.URL.String(), http.StatusBadGateway)
		}, "HTTP status 502 Bad Gateway"},
		{"html", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html>" + r.URL.String() + "</html>"))
		}, `answer is not a JSON object (Content-Type "text/html")`},
		{"array", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`[1,2]`))
		}, "answer is not a JSON object"},
		{"too big", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"errcode":0,"follow_user":["` + strings.Repeat("x", 2000) + `"]}`))
		}, "answer is larger than 1024 bytes"},
		{"wrong type", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"errcode":0,"follow_user":"zhangsan"}`))
		}, "decode answer"},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://elsewhere.invalid/steal", http.StatusFound)
		}, "HTTP status 302 Found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.maxResponse = 1024
			h.fake.handle("externalcontact/get_follow_user_list", tc.handle)
			_, err := h.FollowUserList(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v; want %q", err, tc.want)
			}
			if ErrorCode(err) != 0 {
				t.Errorf("ErrorCode = %d; want 0 for an answer that is not WeCom's", ErrorCode(err))
			}
			h.assertNoLeak(t, err.Error(), "error")
		})
	}
}

func TestTransportErrorsHoldNoSecrets(t *testing.T) {
	t.Run("gettoken unreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		c, err := New(Config{BaseURL: "http://" + addr, CorpID: testCorpID, Secret: testSecret, MaxRetries: -1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.FollowUserList(context.Background())
		if err == nil || strings.Contains(err.Error(), testSecret) || !strings.Contains(err.Error(), "wecom: gettoken:") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("connection dropped", func(t *testing.T) {
		h := newHarness(t, nil)
		h.fake.handle("externalcontact/get_follow_user_list", func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		})
		_, err := h.FollowUserList(context.Background())
		if err == nil || !strings.Contains(err.Error(), "wecom: externalcontact/get_follow_user_list:") {
			t.Fatalf("err = %v", err)
		}
		h.assertNoLeak(t, err.Error(), "error")
	})
}

func TestErrorCode(t *testing.T) {
	we := &Error{Code: CodeNoRelation, Message: "no relation", API: "externalcontact/remark"}
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("other"), 0},
		{we, CodeNoRelation},
		{fmt.Errorf("sync: %w", we), CodeNoRelation},
	} {
		if got := ErrorCode(tc.err); got != tc.want {
			t.Errorf("ErrorCode(%v) = %d; want %d", tc.err, got, tc.want)
		}
	}
	if got := we.Error(); got != "wecom: externalcontact/remark: errcode 84061: no relation" {
		t.Errorf("Error() = %q", got)
	}
}

// TestMeaningCoversEveryConstant finds every Code constant in error.go, so
// a code added without an explanation fails here.
func TestMeaningCoversEveryConstant(t *testing.T) {
	file, err := parser.ParseFile(token.NewFileSet(), "error.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range file.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			for _, n := range s.(*ast.ValueSpec).Names {
				if strings.HasPrefix(n.Name, "Code") {
					names = append(names, n.Name)
				}
			}
		}
	}
	if len(names) != len(meanings) {
		t.Errorf("error.go declares %d codes and Meaning explains %d", len(names), len(meanings))
	}
	codes := map[string]int{
		"CodeBusy": CodeBusy, "CodeInvalidSecret": CodeInvalidSecret, "CodeInvalidUserID": CodeInvalidUserID,
		"CodeInvalidCorpID": CodeInvalidCorpID, "CodeInvalidToken": CodeInvalidToken, "CodeInvalidParameter": CodeInvalidParameter,
		"CodeInvalidTagID": CodeInvalidTagID, "CodeInvalidExternalUser": CodeInvalidExternalUser, "CodeTagLimit": CodeTagLimit,
		"CodeTokenMissing": CodeTokenMissing, "CodeTokenExpired": CodeTokenExpired, "CodeRateLimited": CodeRateLimited,
		"CodeConcurrency": CodeConcurrency, "CodeNoPermission": CodeNoPermission, "CodeAppDisabled": CodeAppDisabled,
		"CodeInvalidCursor": CodeInvalidCursor, "CodeOutOfScope": CodeOutOfScope, "CodeUntrustedIP": CodeUntrustedIP,
		"CodeUserNotFound": CodeUserNotFound, "CodeNoRelation": CodeNoRelation, "CodeNoContactPermission": CodeNoContactPermission,
		"CodeUnlicensed": CodeUnlicensed,
	}
	for _, name := range names {
		code, ok := codes[name]
		if !ok {
			t.Errorf("%s is not in this test's table; add it", name)
			continue
		}
		m := Meaning(code)
		if _, explained := meanings[code]; !explained || strings.Contains(m, "Look it up") || len(m) < 30 {
			t.Errorf("Meaning(%s) = %q", name, m)
		}
	}
	if m := Meaning(123456); !strings.Contains(m, "devtool/query?e=123456") {
		t.Errorf("Meaning of an unknown code = %q", m)
	}
}

func TestRateLimiterBuckets(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(10, func() time.Time { return now }, sleepCtx)
	for i := range 10 {
		if d := l.reserve("a"); d != 0 {
			t.Fatalf("call %d of the burst waits %s", i+1, d)
		}
	}
	for i, want := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond} {
		if d := l.reserve("a"); d != want {
			t.Errorf("call %d waits %s; want %s", 11+i, d, want)
		}
	}
	if d := l.reserve("b"); d != 0 {
		t.Errorf("another API waits %s; buckets are per API", d)
	}
	l.cancel("a") // the last caller gave up: its slot is free again
	if d := l.reserve("a"); d != 300*time.Millisecond {
		t.Errorf("after a cancel the next call waits %s; want 300ms", d)
	}
	now = now.Add(time.Hour)
	for range 10 {
		if d := l.reserve("a"); d != 0 {
			t.Fatalf("after an idle hour a call waits %s; the bucket holds at most the burst", d)
		}
	}
	if d := l.reserve("a"); d != 100*time.Millisecond {
		t.Errorf("past the burst a call waits %s; want 100ms", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.wait(ctx, "a"); !errors.Is(err, context.Canceled) {
		t.Errorf("wait with a cancelled context = %v", err)
	}
}

func TestRateLimiterBoundsCalls(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.RatePerSecond = 5 })
	api := "externalcontact/get_follow_user_list"
	h.fake.handleValid(api, answerCodes(followOK))
	start := h.clock.Now()
	for range 20 {
		if _, err := h.FollowUserList(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// A burst of 5, then 15 calls at 5 a second: 3 s of waiting in all, on
	// the fake clock.
	if got := h.clock.Now().Sub(start); got != 3*time.Second {
		t.Errorf("20 calls at 5/s took %s; want 3s", got)
	}
	if n := h.fake.count(api); n != 20 {
		t.Errorf("API called %d times", n)
	}
}

func BenchmarkFollowUserList(b *testing.B) {
	h := newHarness(b, func(c *Config) { c.RatePerSecond = 1e9 })
	h.sleep = sleepCtx
	h.fake.handleValid("externalcontact/get_follow_user_list", answerCodes(followOK))
	b.ResetTimer()
	for b.Loop() {
		if _, err := h.FollowUserList(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
