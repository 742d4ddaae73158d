package wecom

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults for the settings a Config leaves zero.
const (
	DefaultBaseURL = "https://qyapi.weixin.qq.com"
	DefaultTimeout = 10 * time.Second
	// DefaultRatePerSecond stays under WeCom's 10 000 calls a minute per API
	// and corp: with a burst of 150, at most 9 150 calls start in a minute.
	DefaultRatePerSecond = 150.0
	DefaultMaxRetries    = 3
)

const (
	maxResponseBytes = 8 << 20 // WeCom pages are far smaller; more is a wrong server
	maxRequestBytes  = 1 << 20
	backoffBase      = 500 * time.Millisecond
	backoffMax       = 10 * time.Second
)

// Config configures a Client for one app of one corp.
type Config struct {
	// BaseURL is where the API lives: DefaultBaseURL when empty, or the
	// local sandbox, so the two are one setting apart.
	BaseURL string
	// CorpID is the corp ID (企业ID) from the WeCom admin console.
	CorpID string
	// Secret is the secret of the self-built app configured for customer
	// contact. It is sent to gettoken only and never logged.
	Secret string
	// AgentID is the app's agent ID; optional, it only names the app in logs.
	AgentID int64
	// HTTPClient sends the requests; nil means a new client. Its redirect
	// policy is replaced: WeCom never redirects, and a redirect would carry
	// the token elsewhere.
	HTTPClient *http.Client
	// Timeout bounds each HTTP round trip; 0 means DefaultTimeout.
	Timeout time.Duration
	// RatePerSecond is the rate allowed per API path; 0 means
	// DefaultRatePerSecond.
	RatePerSecond float64
	// MaxRetries bounds the retries of a call that WeCom answers with -1,
	// 45009 or 45033; 0 means DefaultMaxRetries and a negative value none.
	MaxRetries int
	// Logger receives retries and token refreshes; nil discards them.
	Logger *slog.Logger
	// Now tells the time, for token expiry and rate limits; nil means
	// time.Now.
	Now func() time.Time
	// Tokens is the access-token cache; nil means one of the client's own.
	// Clients sharing a cache share the tokens of the same corp and app.
	Tokens *TokenCache
}

// String describes the configuration without its secret.
func (c Config) String() string {
	secret := "(empty)"
	if c.Secret != "" {
		secret = "[redacted]"
	}
	return fmt.Sprintf("wecom.Config{BaseURL:%q CorpID:%q AgentID:%d Secret:%s}", c.BaseURL, c.CorpID, c.AgentID, secret)
}

// GoString is String, so that %#v does not print the secret either.
func (c Config) GoString() string { return c.String() }

// LogValue logs the configuration without its secret.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Client calls WeCom's server API for one app of one corp. It is safe for
// concurrent use; create it once and share it.
type Client struct {
	base        string
	corpID      string
	secret      string
	agentID     int64
	http        *http.Client
	timeout     time.Duration
	maxRetries  int
	maxResponse int64
	log         *slog.Logger
	now         func() time.Time
	sleep       func(context.Context, time.Duration) error
	jitter      func(time.Duration) time.Duration // a random duration in [0, d)
	limit       *limiter
	tokens      *TokenCache
	tokenKey    string
}

// New checks cfg and returns a Client. It makes no network call.
func New(cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	c := &Client{
		base:        base,
		corpID:      cfg.CorpID,
		secret:      cfg.Secret,
		agentID:     cfg.AgentID,
		timeout:     orDefault(cfg.Timeout, DefaultTimeout),
		maxRetries:  cfg.MaxRetries,
		maxResponse: maxResponseBytes,
		log:         cfg.Logger,
		now:         cfg.Now,
		sleep:       sleepCtx,
		jitter:      func(d time.Duration) time.Duration { return randDuration(d) },
		tokens:      cfg.Tokens,
	}
	if c.maxRetries == 0 {
		c.maxRetries = DefaultMaxRetries
	} else if c.maxRetries < 0 {
		c.maxRetries = 0
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("corp", cfg.CorpID, "agent", cfg.AgentID)
	if c.now == nil {
		c.now = time.Now
	}
	if c.tokens == nil {
		c.tokens = NewTokenCache()
	}
	// Copy the caller's client: its redirect policy must not change under it.
	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		copied := *cfg.HTTPClient
		hc = &copied
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.http = hc
	rate := cfg.RatePerSecond
	if rate == 0 {
		rate = DefaultRatePerSecond
	}
	c.limit = newLimiter(rate, func() time.Time { return c.now() }, func(ctx context.Context, d time.Duration) error { return c.sleep(ctx, d) })
	// The secret's hash tells apps apart even when AgentID is not set; the
	// base URL keeps sandbox and real tokens apart.
	c.tokenKey = fmt.Sprintf("%s|%s|%d|%x", base, cfg.CorpID, cfg.AgentID, sha256.Sum256([]byte(cfg.Secret)))
	return c, nil
}

func (cfg *Config) validate() error {
	switch {
	case cfg.CorpID == "":
		return errors.New("wecom: CorpID is empty; copy the corp ID (企业ID) from My Company → Company Information in the WeCom admin console")
	case strings.TrimSpace(cfg.CorpID) != cfg.CorpID:
		return errors.New("wecom: CorpID has spaces around it; remove them")
	case cfg.Secret == "":
		return errors.New("wecom: Secret is empty; copy the secret of the self-built app listed under Customer Contact → API (客户联系 → 可调用接口的应用)")
	case strings.TrimSpace(cfg.Secret) != cfg.Secret:
		return errors.New("wecom: Secret has spaces around it; remove them")
	case cfg.AgentID < 0:
		return fmt.Errorf("wecom: AgentID %d is negative; leave it 0 or copy the app's AgentId", cfg.AgentID)
	case cfg.Timeout < 0:
		return fmt.Errorf("wecom: Timeout %s is negative; leave it 0 for %s", cfg.Timeout, DefaultTimeout)
	case cfg.RatePerSecond < 0 || math.IsNaN(cfg.RatePerSecond) || math.IsInf(cfg.RatePerSecond, 0):
		return fmt.Errorf("wecom: RatePerSecond %v is not a positive number; leave it 0 for %v", cfg.RatePerSecond, DefaultRatePerSecond)
	}
	if cfg.BaseURL == "" {
		return nil
	}
	u, err := url.Parse(cfg.BaseURL)
	switch {
	case err != nil:
		return fmt.Errorf("wecom: BaseURL %q is not a URL: %v", cfg.BaseURL, err)
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("wecom: BaseURL %q must start with https:// (or http:// for a local sandbox)", cfg.BaseURL)
	case u.Host == "":
		return fmt.Errorf("wecom: BaseURL %q has no host; use e.g. %s", cfg.BaseURL, DefaultBaseURL)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("wecom: BaseURL %q must be a scheme, host and optional path only, like %s", cfg.BaseURL, DefaultBaseURL)
	}
	return nil
}

// call sends one API call with the access token, refetching the token once
// if WeCom refuses it and retrying with backoff while WeCom is overloaded.
// in, if not nil, is sent as the JSON body; out receives the answer.
func (c *Client) call(ctx context.Context, method, api string, query url.Values, in, out any) error {
	return c.callQuery(ctx, method, api, query, in, out, c.maxRetries)
}

// callQuery is call with at most maxRetries retries on busy answers.
func (c *Client) callQuery(ctx context.Context, method, api string, query url.Values, in, out any, maxRetries int) error {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("wecom: %s: encode request: %w", api, err)
		}
		if len(b) > maxRequestBytes {
			return fmt.Errorf("wecom: %s: request body is %d bytes, more than the %d this client sends", api, len(b), maxRequestBytes)
		}
		body = b
	}
	refetched := false
	retries := 0
	for {
		tok, err := c.token(ctx)
		if err != nil {
			return err
		}
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("access_token", tok)
		err = c.send(ctx, method, api, q, body, out, tok)
		code := ErrorCode(err)
		switch {
		case err == nil:
			return nil
		case tokenRejected(code) && !refetched:
			// WeCom may end a token early; fetch a new one, but only once, so a
			// token that stays refused cannot loop.
			refetched = true
			c.log.Info("wecom: access token refused; fetching a new one", "api", api, "errcode", code)
			c.dropToken(tok)
		case retryable(code) && retries < maxRetries:
			if werr := c.backoff(ctx, api, code, retries); werr != nil {
				return fmt.Errorf("%w (stopped retrying: %w)", err, werr)
			}
			retries++
		default:
			return err
		}
	}
}

// backoff sleeps before retry number n+1: exponential with jitter, so that
// many callers refused at once do not come back at once.
func (c *Client) backoff(ctx context.Context, api string, code, n int) error {
	d := backoffMax
	if n < 10 {
		d = min(backoffMax, backoffBase<<n)
	}
	d = d/2 + c.jitter(d/2)
	c.log.Warn("wecom: WeCom is busy; retrying", "api", api, "errcode", code, "retry", n+1, "wait", d)
	return c.sleep(ctx, d)
}

// send makes one HTTP round trip and decodes the answer. secrets are removed
// from any error text, as the URL carries the token or the corp secret.
func (c *Client) send(ctx context.Context, method, api string, query url.Values, body []byte, out any, secrets ...string) error {
	if err := c.limit.wait(ctx, api); err != nil {
		return fmt.Errorf("wecom: %s: waiting for the rate limiter: %w", api, err)
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u := c.base + "/cgi-bin/" + api
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("wecom: %s: build request: %s", api, redact(err.Error(), secrets...))
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.transportError(parent, api, err, secrets)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, c.maxResponse+1))
	if err != nil {
		return c.transportError(parent, api, err, secrets)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("wecom: %s: HTTP status %s (WeCom answers 200 to every call it understood; check BaseURL)", api, resp.Status)
	}
	if int64(len(raw)) > c.maxResponse {
		return fmt.Errorf("wecom: %s: answer is larger than %d bytes; refusing it", api, c.maxResponse)
	}
	var env struct {
		ErrCode *int   `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("wecom: %s: answer is not a JSON object (Content-Type %q): %s", api, resp.Header.Get("Content-Type"), redact(err.Error(), secrets...))
	}
	if env.ErrCode != nil && *env.ErrCode != 0 {
		return &Error{Code: *env.ErrCode, Message: redact(env.ErrMsg, secrets...), API: api}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("wecom: %s: decode answer: %w", api, err)
		}
	}
	return nil
}

// transportErr is a failed round trip. Its text never holds the URL, which
// carries the token.
type transportErr struct {
	msg string
	err error
}

func (e *transportErr) Error() string { return e.msg }
func (e *transportErr) Unwrap() error { return e.err }

func (c *Client) transportError(parent context.Context, api string, err error, secrets []string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // url.Error's text holds the whole URL
	}
	msg := redact(err.Error(), secrets...)
	if errors.Is(err, context.DeadlineExceeded) && parent.Err() == nil {
		msg = fmt.Sprintf("no answer within %s", c.timeout)
	}
	return &transportErr{msg: fmt.Sprintf("wecom: %s: %s", api, msg), err: err}
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func randDuration(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}
