package web_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/secrets"
)

// revealEnv gives an instance keys the test knows, so it can seal phone
// numbers as a sync would.
func revealEnv() (map[string]string, *protect.Protector) {
	key := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	enc := base64.StdEncoding.EncodeToString
	env := map[string]string{secrets.EnvSessionKey: enc(key(7)), secrets.EnvFieldKey: enc(key(8)), secrets.EnvBlindIndexKey: enc(key(9))}
	p, err := protect.New(key(8), key(9))
	if err != nil {
		panic(err)
	}
	return env, p
}

func TestPhonesMaskedAndRevealedWithReason(t *testing.T) {
	env, p := revealEnv()
	in := apptest.Start(t, apptest.Options{Env: env})
	db := mustStore(t, in)
	seedDirectory(t, db, 12)
	phone, err := p.Seal(protect.FieldPhone, "13812341234")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var id string
	err = db.InTx(ctx, func(tx *sql.Tx) error {
		var cid int64
		if err := tx.QueryRow("SELECT id FROM customers WHERE external_userid = 'wm005'").Scan(&cid); err != nil {
			return err
		}
		id = strconv.FormatInt(cid, 10)
		return customer.ApplyFollow(ctx, tx, cid, customer.Follow{MemberUserID: "wang", Remark: "备注5", AddWay: 1, State: "shop-qr", AddedAt: seedTime, Phones: []protect.Sealed{phone}}, seedTime)
	})
	if err != nil {
		t.Fatal(err)
	}

	agent := signedIn(t, in, auth.RoleAgent)
	body := agent.get("/customers/wm005", 200)
	mustContain(t, "customer page", body, `id="rel-phones-wang"`, "138****1234", `name="index" value="`+phone.Index+`"`, "Reveal (audited)")
	mustNotContain(t, "customer page", body, "13812341234")

	// A phone number finds its customer through the blind index.
	for _, q := range []string{"13812341234", "+86 138 1234 1234"} {
		if rows := customerRows(agent.get("/customers?q="+url.QueryEscape(q), 200)); len(rows) != 1 || rows[0] != id {
			t.Errorf("search %q: rows %v, want [%s]", q, rows, id)
		}
	}

	reveal := url.Values{"member": {"wang"}, "index": {phone.Index}}
	resp, body := agent.form("/customers/wm005/reveal", reveal, en)
	if resp.StatusCode != 400 || !strings.Contains(body, "Give a reason") || strings.Contains(body, "13812341234") {
		t.Fatalf("reveal without reason: %d\n%.1500s", resp.StatusCode, body)
	}
	reveal.Set("reason", strings.Repeat("r", 201))
	if resp, _ := agent.form("/customers/wm005/reveal", reveal, en); resp.StatusCode != 400 {
		t.Fatalf("reveal with a long reason: %d", resp.StatusCode)
	}
	reveal.Set("reason", "courier callback")
	resp, body = agent.form("/customers/wm005/reveal", reveal, en)
	if resp.StatusCode != 200 || !strings.Contains(body, `id="phone-revealed">13812341234<`) || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("reveal: %d %q\n%.1500s", resp.StatusCode, resp.Header.Get("Cache-Control"), body)
	}
	// Shown once: the page is masked again afterwards.
	mustNotContain(t, "customer page after reveal", agent.get("/customers/wm005", 200), "13812341234")

	operator := signedIn(t, in, auth.RoleOperator)
	mustNotContain(t, "operator's page", operator.get("/customers/wm005", 200), "Reveal (audited)")
	if resp, _ := operator.form("/customers/wm005/reveal", reveal, en); resp.StatusCode != 403 {
		t.Fatalf("operator reveal: %d, want 403", resp.StatusCode)
	}

	entries, _, err := audit.New(db, kith.SystemClock{}).List(ctx, audit.Filter{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	reveals := 0
	for _, e := range entries {
		if strings.Contains(e.Detail, "13812341234") || strings.Contains(e.Detail, "1234 1234") {
			t.Fatalf("an audit entry holds the number: %+v", e)
		}
		if e.Action == audit.ActionPIIReveal && e.Outcome == audit.OutcomeOK {
			reveals++
			if e.Person != id || e.Actor.Name != "u-agent" || !strings.Contains(e.Detail, `"reason":"courier callback"`) || !strings.Contains(e.Detail, `"field":"phone"`) {
				t.Errorf("reveal entry %+v", e)
			}
		}
	}
	if reveals != 1 {
		t.Fatalf("%d reveals audited, want 1", reveals)
	}
}
