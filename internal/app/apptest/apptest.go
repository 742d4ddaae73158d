// Package apptest runs a whole Kith instance in-process for tests: a fresh
// SQLite data folder (or a fresh PostgreSQL database), a real HTTP listener
// on a loopback port, River working jobs, and a known owner password.
package apptest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"sync"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/app"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/config"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/secrets"
	"github.com/kith-scrm/kith/internal/settings"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// OwnerPassword is the owner's password in every test instance.
const OwnerPassword = "correct horse battery staple"

// Instance is a running Kith.
type Instance struct {
	URL     string // http://127.0.0.1:PORT
	Config  *config.Config
	Env     map[string]string
	stdout  *SyncBuffer
	cancel  context.CancelFunc
	done    chan error
	stopped bool
}

// Options change the defaults of Start.
type Options struct {
	Postgres bool              // run on a fresh PostgreSQL database (needs KITH_TEST_DATABASE_URL)
	Sandbox  bool              // --sandbox
	Env      map[string]string // extra environment
	// NoAdminPassword leaves KITH_ADMIN_PASSWORD unset, so the owner gets a
	// one-time password printed on Stdout.
	NoAdminPassword bool
	// ImportMaxBytes bounds console uploads of order files (0: the default).
	ImportMaxBytes int64
}

// Start runs an instance until the test ends.
func Start(tb testing.TB, o Options) *Instance {
	tb.Helper()
	env := map[string]string{}
	if !o.NoAdminPassword {
		env["KITH_ADMIN_PASSWORD"] = OwnerPassword
	}
	for k, v := range o.Env {
		env[k] = v
	}
	cfg := &config.Config{
		Addr: "127.0.0.1:0", DataDir: tb.TempDir(), Sandbox: o.Sandbox, LogLevel: slog.LevelWarn,
		LogFormat: "text", CookieSecure: "auto", NodeName: "test-" + tb.Name(), AdminPassword: env["KITH_ADMIN_PASSWORD"],
	}
	keys, err := secrets.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		tb.Fatal(err)
	}
	cfg.EnvKeys = keys
	if cfg.WeComEnv, err = settings.WeComFromEnv(func(k string) string { return env[k] }); err != nil {
		tb.Fatal(err)
	}
	if o.Postgres {
		cfg.DatabaseURL = storetest.NewPostgresDatabase(tb)
	}
	ln, err := app.Listen(cfg.Addr)
	if err != nil {
		tb.Fatal(err)
	}
	in := &Instance{URL: "http://" + ln.Addr().String(), Config: cfg, Env: env, stdout: &SyncBuffer{}, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	in.cancel = cancel
	ready := make(chan struct{})
	logger := slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	go func() {
		in.done <- app.Serve(ctx, cfg, ln, app.Options{
			Stdout: in.stdout, Log: logger, Ready: func() { close(ready) }, SandboxCustomers: 300, ImportMaxBytes: o.ImportMaxBytes,
		})
	}()
	select {
	case <-ready:
	case err := <-in.done:
		tb.Fatalf("apptest: instance did not start: %v", err)
	case <-time.After(startDeadline):
		tb.Fatalf("apptest: instance did not start within %s", startDeadline)
	}
	tb.Cleanup(func() { in.Stop(tb) })
	return in
}

// startDeadline bounds an instance's start. A start takes well under a second
// alone, but CI runs many packages at once on two cores, and an instance that
// seeds the sandbox company competes with all of them; 30 s was missed there.
const startDeadline = 90 * time.Second

// Stop stops the instance gracefully and fails the test if that fails.
func (in *Instance) Stop(tb testing.TB) {
	tb.Helper()
	if in.stopped {
		return
	}
	in.stopped = true
	in.cancel()
	select {
	case err := <-in.done:
		if err != nil {
			tb.Errorf("apptest: stop: %v", err)
		}
	case <-time.After(15 * time.Second):
		tb.Error("apptest: instance did not stop within 15 s")
	}
}

// Auth opens a second handle on the instance's database, as a CLI command
// beside a running server would, and returns an auth service on it for
// creating users and tokens in tests.
func (in *Instance) Auth(tb testing.TB) *auth.Service {
	tb.Helper()
	db, err := store.Open(context.Background(), store.Options{DataDir: in.Config.DataDir, URL: in.Config.DatabaseURL})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return auth.NewService(db, kith.SystemClock{}, auth.HashParams{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// Stdout returns what the instance printed for people.
func (in *Instance) Stdout() string { return in.stdout.String() }

// Client returns an HTTP client with a cookie jar that does not follow
// redirects, so tests see each answer.
func (in *Instance) Client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// SyncBuffer is a bytes.Buffer that a writing goroutine (a server, a child
// process's output copier) and the test can share.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testWriter sends log lines to the test's log.
type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Helper()
	w.tb.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}
