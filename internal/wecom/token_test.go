package wecom

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

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

func TestConcurrentCallersRefusedTogetherFetchOneNewToken(t *testing.T) {
	h := newHarness(t, nil)
	api := "externalcontact/get_follow_user_list"
	h.fake.handleValid(api, answerCodes(followOK))
	if _, err := h.FollowUserList(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.fake.invalidateTokens()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := h.FollowUserList(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// Each caller drops only the token it was refused, so a token fetched
	// by another caller meanwhile survives: one new token for all.
	if n := h.fake.count("gettoken"); n != 2 {
		t.Errorf("gettoken called %d times; want 2", n)
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
