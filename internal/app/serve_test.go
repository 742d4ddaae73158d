package app_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/kith-scrm/kith/internal/app/apptest"
)

func TestServeAnswersHealthAndReady(t *testing.T) {
	in := apptest.Start(t, apptest.Options{Sandbox: true})
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(in.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
	if !strings.Contains(in.Stdout(), "KITH_ADMIN_PASSWORD") {
		t.Fatalf("first-start notice should point at KITH_ADMIN_PASSWORD; got %q", in.Stdout())
	}
}
