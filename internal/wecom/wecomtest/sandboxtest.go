package wecomtest

import (
	"net/http/httptest"
	"testing"
)

// TestEncodingAESKey is the EncodingAESKey Start uses when Options has none.
const TestEncodingAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

// TestCallbackToken is the callback Token Start uses when Options has none.
const TestCallbackToken = "kithsandbox"

// Server is a sandbox running on an httptest.Server.
type Server struct {
	*Sandbox
	// URL is the base URL to give the WeCom client instead of
	// https://qyapi.weixin.qq.com.
	URL string
}

// Start runs a sandbox on an httptest.Server for the rest of the test. Empty
// callback settings get TestCallbackToken and TestEncodingAESKey, so
// callbacks can be delivered as soon as SetCallbackURL names a receiver.
func Start(tb testing.TB, o Options) *Server {
	tb.Helper()
	if o.CallbackToken == "" && o.EncodingAESKey == "" {
		o.CallbackToken, o.EncodingAESKey = TestCallbackToken, TestEncodingAESKey
	}
	s, err := New(o)
	if err != nil {
		tb.Fatalf("wecomtest: %v", err)
	}
	ts := httptest.NewServer(s.Handler())
	tb.Cleanup(ts.Close)
	return &Server{Sandbox: s, URL: ts.URL}
}

// MustSeed seeds the sandbox and fails the test on error.
func MustSeed(tb testing.TB, s *Sandbox, seed int64, opts SeedOptions) {
	tb.Helper()
	if err := s.Seed(seed, opts); err != nil {
		tb.Fatalf("wecomtest: %v", err)
	}
}
