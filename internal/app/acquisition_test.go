package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/store"
)

// TestCapTakesAMemberOffTheCode runs the whole path in a serving instance:
// a channel with a cap of one, customers scanning in the sandbox, events
// applied by River, and the refresh job enqueued with the arrival that
// reached the cap putting the backup on the code.
func TestCapTakesAMemberOffTheCode(t *testing.T) {
	in := apptest.Start(t, apptest.Options{Sandbox: true})
	_, secret, err := in.Auth(t).CreateToken(context.Background(), "t", auth.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, in.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	roster := func(id float64) []string {
		_, body := call("GET", "/api/v1/channels", "")
		var out struct {
			Channels []struct {
				ID     float64  `json:"id"`
				URL    string   `json:"url"`
				Roster []string `json:"roster"`
			} `json:"channels"`
		}
		json.Unmarshal([]byte(body), &out)
		for _, ch := range out.Channels {
			if ch.ID == id {
				return ch.Roster
			}
		}
		return nil
	}
	var status int
	var body string
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		// Members arrive with the first sync.
		status, body = call("POST", "/api/v1/channels", `{"kind":"code","name":"上限","daily_cap":1,"members":["zhangwei","lina"],"backups":["chenjing"]}`)
		if status == 201 || time.Now().After(deadline) {
			break
		}
	}
	var created struct {
		ID float64 `json:"id"`
	}
	if status != 201 || json.Unmarshal([]byte(body), &created) != nil {
		t.Fatalf("create: %d %s", status, body)
	}
	var configID string
	db := openDB(t, in)
	if err := db.R.QueryRow("SELECT remote_id FROM acq_channels WHERE id = $1", int64(created.ID)).Scan(&configID); err != nil {
		t.Fatal(err)
	}
	sandbox := regexp.MustCompile(`at (http://\S+)/sandbox/`).FindStringSubmatch(in.Stdout())[1]
	for range 2 {
		resp, err := http.Post(sandbox+"/sandbox/scan?config_id="+configID, "", nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("scan: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		got := roster(created.ID)
		if slices.Equal(got, []string{"chenjing"}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("roster %v 10 s after both members reached the cap, want the backup", got)
		}
	}
}

func openDB(t *testing.T, in *apptest.Instance) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Options{DataDir: in.Config.DataDir, URL: in.Config.DatabaseURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
