package wecomsync

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/settings"
	"github.com/kith-scrm/kith/internal/wecom"
	"github.com/kith-scrm/kith/internal/wecom/callback"
)

// settingsTTL is how long a node trusts the WeCom settings it read; a
// change saved on another node takes effect here within it.
const settingsTTL = 15 * time.Second

// Conn gives the WeCom client and callback crypto for the current settings,
// building them again when the settings change.
type Conn struct {
	settings *settings.Store
	http     *http.Client
	log      *slog.Logger
	tokens   *wecom.TokenCache

	mu       sync.Mutex
	readAt   time.Time
	current  settings.WeCom
	hash     [32]byte
	client   *wecom.Client
	crypto   *callback.Crypto
	buildErr error
}

// NewConn returns a Conn over the settings store.
func NewConn(st *settings.Store, httpClient *http.Client, log *slog.Logger) *Conn {
	return &Conn{settings: st, http: httpClient, log: log, tokens: wecom.NewTokenCache()}
}

// Invalidate makes the next call read the settings again (after a save).
func (c *Conn) Invalidate() {
	c.mu.Lock()
	c.readAt = time.Time{}
	c.mu.Unlock()
}

var errNotConfigured = kith.Errorf(kith.EUNAVAILABLE, "WeCom is not connected yet: set the corp ID, secret, callback token and EncodingAESKey in Settings or the KITH_WECOM_* variables")

func (c *Conn) refresh(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.readAt.IsZero() && time.Since(c.readAt) < settingsTTL {
		return c.buildErr
	}
	w, err := c.settings.WeCom(ctx)
	if err != nil {
		return err
	}
	c.readAt = time.Now()
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%s\x00%s\x00%s\x00%s", w.CorpID, w.AgentID, w.Secret, w.CallbackToken, w.CallbackAESKey, w.APIBase))
	if h == c.hash && (c.client != nil || c.buildErr != nil) {
		return c.buildErr
	}
	c.hash, c.current, c.client, c.crypto, c.buildErr = h, w, nil, nil, nil
	if !w.Configured() {
		c.buildErr = errNotConfigured
		return c.buildErr
	}
	c.client, err = wecom.New(wecom.Config{BaseURL: w.APIBase, CorpID: w.CorpID, Secret: w.Secret, AgentID: w.AgentID, HTTPClient: c.http, Logger: c.log, Tokens: c.tokens})
	if err != nil {
		c.buildErr = kith.Errorf(kith.EUNAVAILABLE, "WeCom settings cannot be used: %v", err)
		return c.buildErr
	}
	c.crypto, err = callback.NewCrypto(w.CallbackToken, w.CallbackAESKey, w.CorpID)
	if err != nil {
		c.client = nil
		c.buildErr = kith.Errorf(kith.EUNAVAILABLE, "WeCom callback settings cannot be used: %v", err)
	}
	return c.buildErr
}

// Client returns the API client, or an EUNAVAILABLE error while WeCom is not
// configured.
func (c *Conn) Client(ctx context.Context) (*wecom.Client, error) {
	if err := c.refresh(ctx); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.client, nil
}

// Crypto returns the callback crypto, or an EUNAVAILABLE error while WeCom
// is not configured.
func (c *Conn) Crypto(ctx context.Context) (*callback.Crypto, error) {
	if err := c.refresh(ctx); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.crypto, nil
}

// Settings returns the settings in use.
func (c *Conn) Settings(ctx context.Context) (settings.WeCom, error) {
	err := c.refresh(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil && err != errNotConfigured && c.current.CorpID == "" {
		return c.current, err
	}
	return c.current, nil
}
