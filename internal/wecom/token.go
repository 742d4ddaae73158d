package wecom

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

const (
	// credentialPause is how long a refused corp ID or secret is remembered:
	// WeCom blocks an IP for an hour after many failing gettoken calls.
	credentialPause = time.Minute
	// refreshRetry is how soon a failed refresh is tried again while the old
	// token is still valid.
	refreshRetry = 30 * time.Second
)

// TokenCache keeps access tokens per corp and app (keyed by base URL, corp
// ID, agent ID and the SHA-256 of the secret) and fetches each at most once
// at a time, however many callers need it. The zero value is not usable;
// call NewTokenCache.
type TokenCache struct {
	mu      sync.Mutex
	entries map[string]*tokenEntry
	flight  singleflight.Group
}

type tokenEntry struct {
	token     string
	refreshAt time.Time // a little before expiresAt
	expiresAt time.Time
	err       *Error // gettoken refused the credentials…
	errUntil  time.Time
}

// NewTokenCache returns an empty cache.
func NewTokenCache() *TokenCache {
	return &TokenCache{entries: map[string]*tokenEntry{}}
}

// refreshMargin is how long before expiry a token is replaced, so that a
// token is never used in its last moments.
func refreshMargin(expires time.Duration) time.Duration {
	if expires > 10*time.Minute {
		return 5 * time.Minute
	}
	return expires / 2
}

// token returns a valid access token, fetching one if needed. Callers that
// arrive while a fetch runs wait for it; each may give up with its own ctx.
func (c *Client) token(ctx context.Context) (string, error) {
	if tok, ok, err := c.cachedToken(); ok {
		return tok, err
	}
	// The fetch must not fail for everyone because its first caller gave up.
	fetchCtx := context.WithoutCancel(ctx)
	ch := c.tokens.flight.DoChan(c.tokenKey, func() (any, error) { return c.refreshToken(fetchCtx) })
	select {
	case r := <-ch:
		if r.Err != nil {
			return "", r.Err
		}
		return r.Val.(string), nil
	case <-ctx.Done():
		return "", fmt.Errorf("wecom: gettoken: %w", ctx.Err())
	}
}

// cachedToken returns the cached token, or the remembered refusal of the
// credentials; ok is false when a fetch is needed.
func (c *Client) cachedToken() (tok string, ok bool, err error) {
	now := c.now()
	c.tokens.mu.Lock()
	defer c.tokens.mu.Unlock()
	e := c.tokens.entries[c.tokenKey]
	switch {
	case e == nil:
		return "", false, nil
	case e.token != "" && now.Before(e.refreshAt):
		return e.token, true, nil
	case e.err != nil && now.Before(e.errUntil):
		if e.token != "" && now.Before(e.expiresAt) {
			return e.token, true, nil // refused credentials, but the old token still works
		}
		return "", true, e.err
	}
	return "", false, nil
}

// refreshToken runs inside the single flight.
func (c *Client) refreshToken(ctx context.Context) (string, error) {
	// A flight that ended just before this one began may have left a token.
	if tok, ok, err := c.cachedToken(); ok {
		return tok, err
	}
	tok, expires, err := c.fetchToken(ctx)
	now := c.now()
	c.tokens.mu.Lock()
	defer c.tokens.mu.Unlock()
	e := c.tokens.entries[c.tokenKey]
	if e == nil {
		e = &tokenEntry{}
		c.tokens.entries[c.tokenKey] = e
	}
	if err != nil {
		if we := (*Error)(nil); errors.As(err, &we) && credentialsRejected(we.Code) {
			e.err, e.errUntil = we, now.Add(credentialPause)
			c.log.Error("wecom: gettoken refused the corp ID or secret; pausing", "errcode", we.Code, "pause", credentialPause)
		}
		if e.token != "" && now.Before(e.expiresAt) {
			// The old token still works: use it and try again soon.
			e.refreshAt = now.Add(refreshRetry)
			if e.refreshAt.After(e.expiresAt) {
				e.refreshAt = e.expiresAt
			}
			c.log.Warn("wecom: token refresh failed; using the current token until it expires", "err", err)
			return e.token, nil
		}
		return "", err
	}
	*e = tokenEntry{token: tok, refreshAt: now.Add(expires - refreshMargin(expires)), expiresAt: now.Add(expires)}
	c.log.Debug("wecom: fetched access token", "expires_in", expires)
	return tok, nil
}

// fetchToken calls gettoken, retrying while WeCom is overloaded.
func (c *Client) fetchToken(ctx context.Context) (string, time.Duration, error) {
	q := url.Values{"corpid": {c.corpID}, "corpsecret": {c.secret}}
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	for retries := 0; ; retries++ {
		err := c.send(ctx, http.MethodGet, "gettoken", q, nil, &out, c.secret)
		if err == nil {
			break
		}
		if code := ErrorCode(err); !retryable(code) || retries >= c.maxRetries {
			return "", 0, err
		} else if werr := c.backoff(ctx, "gettoken", code, retries); werr != nil {
			return "", 0, fmt.Errorf("%w (stopped retrying: %w)", err, werr)
		}
	}
	if out.AccessToken == "" {
		return "", 0, fmt.Errorf("wecom: gettoken: answer has no access_token")
	}
	if out.ExpiresIn <= 0 {
		return "", 0, fmt.Errorf("wecom: gettoken: answer has expires_in %d; expected seconds, usually 7200", out.ExpiresIn)
	}
	return out.AccessToken, time.Duration(out.ExpiresIn) * time.Second, nil
}

// dropToken forgets tok if it is still the cached token; a newer token that
// another caller fetched meanwhile is kept.
func (c *Client) dropToken(tok string) {
	c.tokens.mu.Lock()
	defer c.tokens.mu.Unlock()
	if e := c.tokens.entries[c.tokenKey]; e != nil && e.token == tok {
		e.token, e.refreshAt, e.expiresAt = "", time.Time{}, time.Time{}
	}
}
