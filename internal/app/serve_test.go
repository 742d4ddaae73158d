package app_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/store"
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

func TestSandboxModeSyncsTheDemoCompany(t *testing.T) {
	in := apptest.Start(t, apptest.Options{Sandbox: true})
	db, err := store.Open(context.Background(), store.Options{DataDir: in.Config.DataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dir := customer.NewDirectory(db)
	deadline := time.Now().Add(60 * time.Second)
	for {
		n, err := dir.Count(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n >= 300 { // the demo channels' customers come on top
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d customers synced from the sandbox after 60 s, want at least 300", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	members, _ := dir.Members(context.Background())
	groups, _ := dir.TagGroups(context.Background())
	if len(members) < 8 || len(groups) < 5 {
		t.Fatalf("%d members and %d tag groups synced", len(members), len(groups))
	}
	if !strings.Contains(in.Stdout(), "/sandbox/") {
		t.Fatalf("the welcome does not say where the sandbox page is: %q", in.Stdout())
	}
}

func TestSandboxModeShowsDemoChannels(t *testing.T) {
	in := apptest.Start(t, apptest.Options{Sandbox: true})
	db, err := store.Open(context.Background(), store.Options{DataDir: in.Config.DataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	var channels, arrived, welcomed, lost int
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM acq_channels WHERE remote_id <> ''").Scan(&channels)
		db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM follows f JOIN acq_channels c ON c.state = f.state").Scan(&arrived)
		db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM welcome_sends WHERE status = 'sent'").Scan(&welcomed)
		db.R.QueryRowContext(ctx, "SELECT COUNT(*) FROM follows f JOIN acq_channels c ON c.state = f.state WHERE f.status <> 'active'").Scan(&lost)
		if channels == 2 && arrived == 48 && welcomed == 48 && lost == 5 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s: %d channels, %d customers arrived through them, %d welcomed, %d lost; want 2, 48, 48, 5", channels, arrived, welcomed, lost)
		}
	}
}
