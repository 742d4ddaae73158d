package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/kith-scrm/kith/internal/orders/jst/jsttest"
	"github.com/kith-scrm/kith/internal/settings"
	"github.com/kith-scrm/kith/internal/wecom/wecomtest"
)

// SandboxSeed makes the demo company the same at every start, so the data
// Kith synced before matches what the sandbox has again.
const SandboxSeed = 2026

// sandbox is the local WeCom that `serve --sandbox` runs beside Kith.
type sandbox struct {
	sb   *wecomtest.Sandbox
	srv  *http.Server
	ln   net.Listener
	url  string
	conn settings.WeCom // the connection settings that point Kith at it
	// jst is the 聚水潭 order query, served under /jst/ beside WeCom's API.
	jst *jsttest.Sandbox
}

// sandboxJSTPath is where the sandbox serves the 聚水潭 order query.
const sandboxJSTPath = "/jst"

// startSandbox seeds the demo company and serves the sandbox's WeCom API
// and control page on ln; callbacks go to kithURL.
func startSandbox(ln net.Listener, kithURL string, customers int, log *slog.Logger) (*sandbox, error) {
	// A fresh AES key each start: the sandbox and Kith get it together.
	key := randomAlnum(43)
	token := randomAlnum(16)
	sb, err := wecomtest.New(wecomtest.Options{CallbackToken: token, EncodingAESKey: key, CallbackURL: kithURL + "/wecom/callback", RetryDelay: time.Second})
	if err != nil {
		return nil, err
	}
	if err := sb.Seed(SandboxSeed, wecomtest.SeedOptions{Customers: customers}); err != nil {
		return nil, err
	}
	// A year of external payments, so the customer facts mean something.
	sb.SeedPayments(SandboxSeed, 0, time.Now())
	url := "http://" + displayAddr(ln.Addr())
	s := &sandbox{sb: sb, ln: ln, url: url, conn: settings.WeCom{
		CorpID: sb.CorpID(), Secret: sb.Secret(), CallbackToken: token, CallbackAESKey: key, APIBase: url,
		FromEnv: map[string]bool{"corp_id": true, "secret": true, "callback_token": true, "callback_aes_key": true, "api_base": true},
	}}
	// Orders of three shops in 聚水潭 for the order connector to pull.
	// Day-aligned, so a restart the same day serves the same orders; the
	// buyers' numbers are the demo customers', so the orders join them.
	s.jst = jsttest.New()
	var phones []string
	for _, id := range sb.CustomerIDs() {
		for _, r := range sb.Relations(id) {
			phones = append(phones, r.RemarkMobiles...)
		}
		if len(phones) >= 400 {
			break
		}
	}
	s.jst.SeedPhones(SandboxSeed, 600, time.Now().UTC().Truncate(24*time.Hour), phones)
	mux := http.NewServeMux()
	mux.Handle(sandboxJSTPath+"/", http.StripPrefix(sandboxJSTPath, s.jst))
	mux.Handle("/", sb.Handler())
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("sandbox stopped", "err", err)
		}
	}()
	return s, nil
}

func (s *sandbox) stop(ctx context.Context) {
	if s == nil {
		return
	}
	if err := s.srv.Shutdown(ctx); err != nil {
		s.srv.Close()
	}
}

func randomAlnum(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		var r [1]byte
		for {
			rand.Read(r[:])
			if int(r[0]) < 256-256%len(alphabet) { // no modulo bias
				break
			}
		}
		b[i] = alphabet[int(r[0])%len(alphabet)]
	}
	return string(b)
}

// listenSandbox opens the sandbox's port with the same clear errors as Kith's.
func listenSandbox(addr string) (net.Listener, error) {
	ln, err := Listen(addr)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w (set another with --sandbox-addr or KITH_SANDBOX_ADDR)", err)
	}
	return ln, nil
}
