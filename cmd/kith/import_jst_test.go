package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/orders"
	"github.com/kith-scrm/kith/internal/orders/jst"
	"github.com/kith-scrm/kith/internal/orders/jst/jsttest"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/secrets"
	"github.com/kith-scrm/kith/internal/store"
)

func TestImportSourceJSTCommand(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	env := kithEnv(t, "KITH_DATA_DIR", dataDir,
		"KITH_SESSION_KEY", newKey(), "KITH_FIELD_KEY", newKey(), "KITH_BLIND_INDEX_KEY", newKey())
	if r := runKith(t, env, "migrate"); r.code != 0 {
		t.Fatalf("kith migrate: %s", r)
	}
	if r := runKith(t, env, "import", "source", "jst"); r.code != 1 || !strings.Contains(r.stderr, "not set up") {
		t.Fatalf("not set up: %s", r)
	}
	sb := jsttest.Start(t)
	sb.Seed(5, 30, time.Now())

	// The settings the console would save.
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secrets.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	p, err := protect.FromKeys(keys)
	if err != nil {
		t.Fatal(err)
	}
	svc := &jst.Service{DB: db, Sealer: p.Sealer(), Orders: orders.NewStore(db, p, kith.SystemClock{}), Clock: kith.SystemClock{}}
	if err := svc.Save(ctx, jst.Settings{BaseURL: sb.URL, AppKey: jsttest.AppKey, AppSecret: jsttest.AppSecret, AccessToken: jsttest.AccessToken}, "test"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	r := runKith(t, env, "import", "source", "jst", "--json")
	var run struct {
		Trigger string `json:"trigger"`
		Result  struct {
			Orders   int `json:"orders"`
			Inserted int `json:"inserted"`
		} `json:"result"`
		Error string `json:"error"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &run) != nil || run.Trigger != "cli" || run.Result.Orders != 30 || run.Result.Inserted == 0 || run.Error != "" {
		t.Fatalf("pull: %s", r)
	}
	r = runKith(t, env, "import", "source", "jst")
	if r.code != 0 || !strings.Contains(r.stdout, "0 imported") || !strings.Contains(r.stdout, "Orders pulled up to") {
		t.Fatalf("pull again: %s", r)
	}
	sb.SetAccessToken("rotated")
	if r = runKith(t, env, "import", "source", "jst"); r.code != 1 || !strings.Contains(r.stderr, "access token") {
		t.Fatalf("refused: %s", r)
	}
}
