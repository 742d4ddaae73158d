package web_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/kith"
)

// TestConsoleActionsAreAudited checks that signing in, reading customers
// and changing settings leave audit entries, with the data subject named
// where there is one and no secret or search text in them.
func TestConsoleActionsAreAudited(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	db := mustStore(t, in)
	seedDirectory(t, db, 12)
	c := signedIn(t, in, auth.RoleAdmin)
	c.get("/customers?q="+url.QueryEscape("客户00"), 200)
	c.get("/customers/wm003", 200)
	save := url.Values{"form": {"wecom"}, "corp_id": {"wwkith0001"}, "secret": {testSecret},
		"callback_token": {testToken}, "callback_aes_key": {testAESKey}}
	if resp, body := c.form("/settings/wecom", save, nil); resp.StatusCode != 303 {
		t.Fatalf("save: %d %s", resp.StatusCode, body)
	}
	c.do("POST", "/logout", nil, nil)

	log := audit.New(db, kith.SystemClock{})
	entries, _, err := log.List(context.Background(), audit.Filter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var id3 string
	db.R.QueryRow("SELECT id FROM customers WHERE external_userid = 'wm003'").Scan(&id3)
	seen := map[string]audit.Entry{}
	for _, e := range entries {
		key := e.Action + "/" + e.ObjectType
		if _, ok := seen[key]; !ok {
			seen[key] = e
		}
		for _, secret := range []string{testSecret, testToken, testAESKey, "客户00", "a long password"} {
			if strings.Contains(e.Detail, secret) || strings.Contains(e.ObjectID, secret) {
				t.Fatalf("an audit entry holds %q: %+v", secret, e)
			}
		}
	}
	for key, want := range map[string]string{
		"auth.sign_in/user": "user:u-admin", "pii.read/customer_list": "user:u-admin", "pii.read/customer": "user:u-admin",
		"settings.change/settings": "user:u-admin", "auth.sign_out/user": "user:u-admin",
	} {
		e, ok := seen[key]
		if !ok {
			t.Errorf("no %s entry", key)
			continue
		}
		if got := e.Actor.Kind + ":" + e.Actor.Name; got != want {
			t.Errorf("%s by %s, want %s", key, got, want)
		}
	}
	if e := seen["pii.read/customer"]; e.Person != id3 || e.ObjectID != id3 {
		t.Errorf("customer read names person %q object %q, want %s", e.Person, e.ObjectID, id3)
	}
	if e := seen["settings.change/settings"]; !strings.Contains(e.Detail, `"secret"`) || !strings.Contains(e.Detail, `"corp_id"`) {
		t.Errorf("settings change detail %s should name the changed keys", e.Detail)
	}
	if rep, err := log.Verify(context.Background()); err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", rep, err)
	}
}
