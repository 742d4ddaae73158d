package wecom

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
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

// TestMeaningCoversEveryConstant finds every Code constant in error.go, so

// a code added without an explanation fails here.
