package wecomtest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/kith-scrm/kith/internal/wecom/callback"
)

// Defaults used when Options leaves a field empty.
const (
	DefaultCorpID = "wwkithsandbox00001"
	DefaultSecret = "kith-sandbox-secret"

	// DefaultTokenTTL is the access_token lifetime gettoken reports (expires_in 7200).
	DefaultTokenTTL = 2 * time.Hour
	// DefaultRateLimitPerMinute is WeCom's per-corp, per-API limit (path/90312).
	DefaultRateLimitPerMinute = 10000
	// DefaultRateLimitPerHour is WeCom's per-corp, per-API hourly limit (path/90312).
	DefaultRateLimitPerHour = 150000
	// DefaultDeliveryTimeout is how long WeCom waits for a callback answer (5 s).
	DefaultDeliveryTimeout = 5 * time.Second
	// MaxDeliveries is how many times one callback is sent before it is
	// recorded as failed: the first delivery and two retries.
	MaxDeliveries = 3
)

// Options configure a Sandbox. Every field has a usable default.
type Options struct {
	// CorpID and Secret are what gettoken accepts (corpid, corpsecret).
	CorpID, Secret string
	// CallbackToken and EncodingAESKey are the receive-message settings of
	// the app; both are needed to deliver callbacks.
	CallbackToken, EncodingAESKey string
	// CallbackURL is where callbacks are POSTed; empty keeps them unsent
	// (recorded as failed) until SetCallbackURL names one.
	CallbackURL string
	// TokenTTL is the access_token lifetime; zero means DefaultTokenTTL.
	TokenTTL time.Duration
	// RateLimitPerMinute and RateLimitPerHour cap the calls of one API;
	// zero means the documented defaults.
	RateLimitPerMinute, RateLimitPerHour int
	// Now tells the time; nil means time.Now. Tokens, rate windows,
	// createtime values and event CreateTime all read it.
	Now func() time.Time
	// HTTPClient delivers callbacks and checks the callback URL; nil means a
	// client with a 5 s timeout, as long as WeCom waits.
	HTTPClient *http.Client
	// RetryDelay is the pause between deliveries of one callback; zero
	// retries at once (WeCom itself retries after its 5 s timeout).
	RetryDelay time.Duration
}

// Sandbox is an in-memory WeCom corp: its API (Handler), its people (the
// driver methods) and its callbacks. It is safe for concurrent use.
type Sandbox struct {
	opt Options

	mu     sync.Mutex // guards everything below until dmu
	st     *state
	rng    *rand.Rand // IDs of things created after Seed; deterministic
	tokens map[string]time.Time
	token  string // the token gettoken currently hands out
	limits map[string]*window
	faults map[string]*fault
	acq    *acqState      // contact ways, links, welcome codes (api_acquisition.go)
	gm     *groupMsgState // group messages to customers (api_groupmsg.go)
	mo     *momentState   // customer moments (api_moment.go)

	dmu      sync.Mutex // guards the delivery fields below
	log      []Delivery
	queue    []*pending // held while paused
	failed   []*pending // not delivered, for RedeliverFailed
	paused   bool
	crypto   *callback.Crypto
	url      string
	nextSeq  int64
	nonceRng *rand.Rand

	// sendMu keeps callbacks in order, one delivery at a time. It is held
	// during HTTP calls, never together with mu, so a receiver may call the
	// API while it handles a callback.
	sendMu sync.Mutex
}

// New returns an empty sandbox (no members, customers or tags; see Seed).
func New(o Options) (*Sandbox, error) {
	if o.CorpID == "" {
		o.CorpID = DefaultCorpID
	}
	if o.Secret == "" {
		o.Secret = DefaultSecret
	}
	if o.TokenTTL < 0 || o.RateLimitPerMinute < 0 || o.RateLimitPerHour < 0 || o.RetryDelay < 0 {
		return nil, errors.New("wecomtest: negative duration or limit in Options")
	}
	if o.TokenTTL == 0 {
		o.TokenTTL = DefaultTokenTTL
	}
	if o.RateLimitPerMinute == 0 {
		o.RateLimitPerMinute = DefaultRateLimitPerMinute
	}
	if o.RateLimitPerHour == 0 {
		o.RateLimitPerHour = DefaultRateLimitPerHour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: DefaultDeliveryTimeout}
	}
	s := &Sandbox{
		opt:      o,
		st:       newState(),
		rng:      rand.New(rand.NewPCG(1, 0x5eed)),
		tokens:   map[string]time.Time{},
		limits:   map[string]*window{},
		faults:   map[string]*fault{},
		url:      o.CallbackURL,
		nonceRng: rand.New(rand.NewPCG(2, 0x5eed)),
	}
	if o.CallbackToken != "" || o.EncodingAESKey != "" {
		c, err := callback.NewCrypto(o.CallbackToken, o.EncodingAESKey, o.CorpID)
		if err != nil {
			return nil, fmt.Errorf("wecomtest: callback settings: %w", err)
		}
		s.crypto = c
	}
	return s, nil
}

// CorpID returns the corp's ID (also the callbacks' ToUserName and receiveid).
func (s *Sandbox) CorpID() string { return s.opt.CorpID }

// Secret returns the corpsecret gettoken accepts.
func (s *Sandbox) Secret() string { return s.opt.Secret }

// SetCallbackURL changes where callbacks go; "" stops delivery (events are
// then recorded as failed).
func (s *Sandbox) SetCallbackURL(u string) {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	s.url = u
}

// Handler serves the WeCom API under /cgi-bin/ and the sandbox's own control
// API and page under /sandbox/.
func (s *Sandbox) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/cgi-bin/", http.HandlerFunc(s.serveAPI))
	mux.Handle("/sandbox/", s.controlHandler())
	mux.HandleFunc("GET /sandbox/qr/{file}", s.serveQR)
	return mux
}

func (s *Sandbox) now() time.Time { return s.opt.Now() }
