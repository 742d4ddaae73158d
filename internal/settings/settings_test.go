package settings_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/kith-scrm/kith/internal/fieldcrypt"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/settings"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

const aesKey = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"

func sealer(t *testing.T) *fieldcrypt.Sealer {
	s, err := fieldcrypt.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestWeComRoundTripSealsSecrets(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		st := settings.NewStore(db, sealer(t), kith.SystemClock{}, settings.WeCom{})
		w, err := st.WeCom(ctx)
		if err != nil || w.Configured() || w.APIBase != settings.DefaultAPIBase {
			t.Fatalf("empty settings: %+v %v", w, err)
		}
		in := settings.WeCom{CorpID: "ww1234567890abcdef", AgentID: 1000002, Secret: "app-secret-value", CallbackToken: "QDG6eK", CallbackAESKey: aesKey}
		if err := st.SaveWeCom(ctx, in, "user:owner"); err != nil {
			t.Fatal(err)
		}
		var raw string
		db.R.QueryRow("SELECT value FROM settings WHERE key = 'wecom.secret'").Scan(&raw)
		if raw == "" || strings.Contains(raw, "app-secret-value") {
			t.Fatalf("secret stored as %q", raw)
		}
		w, err = st.WeCom(ctx)
		if err != nil || !w.Configured() || w.Secret != "app-secret-value" || w.AgentID != 1000002 || w.CallbackAESKey != aesKey {
			t.Fatalf("read back %+v %v", w, err)
		}
		// Saving with empty secrets keeps them (the form never shows them).
		in.Secret, in.CallbackToken, in.CallbackAESKey = "", "", ""
		in.CorpID = "wwothercorp"
		if err := st.SaveWeCom(ctx, in, "user:owner"); err != nil {
			t.Fatal(err)
		}
		w, _ = st.WeCom(ctx)
		if w.CorpID != "wwothercorp" || w.Secret != "app-secret-value" {
			t.Fatalf("after a save without secrets: %+v", w)
		}
		// Another field key cannot read them.
		other, _ := fieldcrypt.New(bytes.Repeat([]byte{8}, 32))
		if _, err := settings.NewStore(db, other, kith.SystemClock{}, settings.WeCom{}).WeCom(ctx); err == nil {
			t.Fatal("secrets opened under another key")
		}
	})
}

func TestWeComValidation(t *testing.T) {
	db := storetest.MustSQLite(t)
	st := settings.NewStore(db, sealer(t), kith.SystemClock{}, settings.WeCom{})
	for _, c := range []struct {
		w    settings.WeCom
		want string
	}{
		{settings.WeCom{CorpID: "abc"}, "corp ID"},
		{settings.WeCom{CallbackAESKey: "short"}, "EncodingAESKey"},
		{settings.WeCom{CallbackToken: "has space"}, "callback token"},
		{settings.WeCom{APIBase: "ftp://x"}, "API base"},
		{settings.WeCom{APIBase: "https://x/cgi-bin"}, "API base"},
	} {
		err := st.SaveWeCom(context.Background(), c.w, "t")
		if kith.ErrorCode(err) != kith.EINVALID || !strings.Contains(err.Error(), c.want) {
			t.Errorf("SaveWeCom(%+v) = %v, want an error about %s", c.w, err, c.want)
		}
	}
}

func TestEnvironmentWins(t *testing.T) {
	env := map[string]string{settings.EnvCorpID: "wwfromenv", settings.EnvSecret: "env-secret", settings.EnvAPIBase: "http://127.0.0.1:9999/"}
	fromEnv, err := settings.WeComFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.MustSQLite(t)
	st := settings.NewStore(db, sealer(t), kith.SystemClock{}, fromEnv)
	ctx := context.Background()
	if err := st.SaveWeCom(ctx, settings.WeCom{CallbackToken: "tok", CallbackAESKey: aesKey}, "t"); err != nil {
		t.Fatal(err)
	}
	w, _ := st.WeCom(ctx)
	if w.CorpID != "wwfromenv" || w.Secret != "env-secret" || w.APIBase != "http://127.0.0.1:9999" || w.CallbackToken != "tok" || !w.Configured() || !w.FromEnv["corp_id"] {
		t.Fatalf("merged %+v", w)
	}
	if err := st.SaveWeCom(ctx, settings.WeCom{CorpID: "wwother"}, "t"); err == nil || !strings.Contains(err.Error(), settings.EnvCorpID) {
		t.Fatalf("changing an environment field: %v", err)
	}
	if _, err := settings.WeComFromEnv(func(k string) string { return map[string]string{settings.EnvAgentID: "x"}[k] }); err == nil {
		t.Fatal("a bad agent id from the environment was accepted")
	}
	if _, err := settings.WeComFromEnv(func(k string) string { return map[string]string{settings.EnvCallbackAESKey: "x"}[k] }); err == nil || !strings.Contains(err.Error(), "KITH_WECOM") {
		t.Fatalf("a bad AES key from the environment: %v", err)
	}
}
