package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/kith-scrm/kith/internal/app"
	"github.com/kith-scrm/kith/internal/settings"
	"github.com/kith-scrm/kith/internal/wecom/wecomtest"
)

// cmdSandbox runs the local WeCom sandbox alone, for a Kith started
// separately (or several), with its control page to make things happen.
func cmdSandbox(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8081", "host:port for the sandbox's WeCom API and control page")
	callbackURL := fs.String("callback-url", "http://127.0.0.1:8080/wecom/callback", "where to deliver callbacks: Kith's /wecom/callback")
	seed := fs.Int64("seed", app.SandboxSeed, "seed of the demo company; the same seed gives the same company")
	customers := fs.Int("customers", 5000, "customers in the demo company")
	token := fs.String("callback-token", wecomtest.TestCallbackToken, "the callback Token to sign with")
	aesKey := fs.String("callback-aes-key", wecomtest.TestEncodingAESKey, "the 43-character EncodingAESKey to encrypt with")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if u, err := url.Parse(*callbackURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError{fmt.Sprintf("--callback-url %q is not an http(s) address such as http://127.0.0.1:8080/wecom/callback", *callbackURL)}
	}
	if *customers < 0 || *customers > 1_000_000 {
		return usageError{fmt.Sprintf("--customers is %d; use 0 to 1000000", *customers)}
	}
	if err := (settings.WeCom{CallbackToken: *token, CallbackAESKey: *aesKey}).Check(); err != nil {
		return usageError{err.Error()}
	}
	ln, err := app.Listen(*addr)
	if err != nil {
		return err
	}
	sb, err := wecomtest.New(wecomtest.Options{CallbackToken: *token, EncodingAESKey: *aesKey, CallbackURL: *callbackURL, RetryDelay: time.Second})
	if err != nil {
		ln.Close()
		return err
	}
	if err := sb.Seed(*seed, wecomtest.SeedOptions{Customers: max(*customers, 1)}); err != nil {
		ln.Close()
		return err
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "WeCom sandbox at %s — make things happen at %s/sandbox/\n", base, base)
	fmt.Fprintf(stdout, "Callbacks go to %s. Point Kith at the sandbox with:\n\n", *callbackURL)
	for _, kv := range [][2]string{
		{settings.EnvAPIBase, base}, {settings.EnvCorpID, sb.CorpID()}, {settings.EnvSecret, sb.Secret()},
		{settings.EnvCallbackToken, *token}, {settings.EnvCallbackAESKey, *aesKey},
	} {
		fmt.Fprintf(stdout, "  export %s=%s\n", kv[0], kv[1])
	}
	fmt.Fprintln(stdout)
	srv := &http.Server{Handler: sb.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stop, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(stop); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
