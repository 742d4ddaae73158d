package web_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
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

// TestCustomerAPIMasksAndReveals: the API answers a customer with every
// protected value masked; a reveal needs the pii.reveal permission and a
// reason, is audited before it answers, and holds the value only in its
// answer (P-43, P-45).
func TestCustomerAPIMasksAndReveals(t *testing.T) {
	env, p := revealEnv()
	// The instance also holds a previous field key, as during a rotation:
	// the e-mail below was sealed under it and must still reveal.
	old := bytes.Repeat([]byte{10}, 32)
	env[secrets.EnvPreviousFieldKeys] = base64.StdEncoding.EncodeToString(old)
	oldP, err := protect.New(old, bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	in := apptest.Start(t, apptest.Options{Env: env})
	db := mustStore(t, in)
	seedDirectory(t, db, 6)
	seal := func(field, v string) protect.Sealed {
		s, err := p.Seal(field, v)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	phone := seal(protect.FieldPhone, "13812341234")
	mail, err := oldP.Seal(protect.FieldEmail, "zhang.wei@example.com")
	if err != nil {
		t.Fatal(err)
	}
	addr := seal(protect.FieldAddress, "浙江省杭州市西湖区文三路90号")
	ctx := context.Background()
	var id string
	err = db.InTx(ctx, func(tx *sql.Tx) error {
		var cid int64
		if err := tx.QueryRow("SELECT id FROM customers WHERE external_userid = 'wm005'").Scan(&cid); err != nil {
			return err
		}
		id = strconv.FormatInt(cid, 10)
		if err := customer.ApplyFollow(ctx, tx, cid, customer.Follow{MemberUserID: "wang", AddedAt: seedTime, Phones: []protect.Sealed{phone}}, seedTime); err != nil {
			return err
		}
		if err := customer.SetProtected(ctx, tx, cid, protect.FieldEmail, []protect.Sealed{mail}, seedTime); err != nil {
			return err
		}
		return customer.SetProtected(ctx, tx, cid, protect.FieldAddress, []protect.Sealed{addr}, seedTime)
	})
	if err != nil {
		t.Fatal(err)
	}
	hdr := map[string]map[string]string{}
	for _, role := range []auth.Role{auth.RoleAgent, auth.RoleOperator} {
		_, secret, err := in.Auth(t).CreateToken(ctx, "t-"+string(role), role)
		if err != nil {
			t.Fatal(err)
		}
		hdr[string(role)] = map[string]string{"Authorization": "Bearer " + secret, "Content-Type": "application/json"}
	}
	c := newClient(t, in)
	plain := []string{"13812341234", "zhang.wei", "文三路"}

	// Every role that may see the customer gets masked values only.
	for role, h := range hdr {
		resp, body := c.do("GET", "/api/v1/customers/wm005", nil, h)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: GET customer: %d %s", role, resp.StatusCode, body)
		}
		for _, v := range plain {
			if strings.Contains(body, v) {
				t.Fatalf("%s: the API answer holds %q: %s", role, v, body)
			}
		}
		var got struct {
			Customer struct {
				ExternalUserID string `json:"external_userid"`
			} `json:"customer"`
			Relations []struct {
				Member string `json:"member"`
				Phones []struct{ Field, Index, Masked string }
			} `json:"relations"`
			Protected []struct{ Field, Index, Masked string } `json:"protected"`
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatal(err)
		}
		var wang []struct{ Field, Index, Masked string }
		for _, r := range got.Relations {
			if r.Member == "wang" {
				wang = r.Phones
			}
		}
		if got.Customer.ExternalUserID != "wm005" || len(wang) != 1 || wang[0].Masked != "138****1234" || wang[0].Index != phone.Index {
			t.Fatalf("%s: relations %+v", role, got.Relations)
		}
		if len(got.Protected) != 2 || got.Protected[0].Masked != "浙江省杭州市****" || got.Protected[1].Masked != "z***@example.com" || got.Protected[1].Index != mail.Index {
			t.Fatalf("%s: protected %+v", role, got.Protected)
		}
	}
	if resp, _ := c.do("GET", "/api/v1/customers/nobody", nil, hdr["agent"]); resp.StatusCode != 404 {
		t.Fatalf("unknown customer: %d", resp.StatusCode)
	}

	reveal := func(role, body string) (int, string) {
		resp, b := c.do("POST", "/api/v1/customers/wm005/reveal", strings.NewReader(body), hdr[role])
		if resp.StatusCode == 200 && resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("a reveal may be cached: %q", resp.Header.Get("Cache-Control"))
		}
		return resp.StatusCode, b
	}
	for _, bad := range []struct{ body, want string }{
		{`{"field":"phone","index":"` + phone.Index + `"}`, "reason is missing"},
		{`{"field":"phone","index":"` + phone.Index + `","reason":"   "}`, "reason is missing"},
		{`{"field":"phone","index":"` + phone.Index + `","reason":"` + strings.Repeat("r", 201) + `"}`, "longer than 200"},
		{`{"field":"national_id","index":"x","reason":"r"}`, "national_id"},
		{`{"field":"phone","reason":"r"}`, "index is missing"},
		{`{"field":"phone","index":"` + phone.Index + `","reason":"r","extra":1}`, "extra"},
	} {
		if code, body := reveal("agent", bad.body); code != 400 || !strings.Contains(body, bad.want) || strings.Contains(body, "13812341234") {
			t.Errorf("reveal %s: %d %s", bad.body, code, body)
		}
	}
	// The index of another field does not reveal it as this one.
	if code, _ := reveal("agent", `{"field":"email","index":"`+phone.Index+`","reason":"r"}`); code != 404 {
		t.Errorf("phone index as e-mail: %d", code)
	}
	// A role without pii.reveal is refused.
	if code, body := reveal("operator", `{"field":"phone","index":"`+phone.Index+`","reason":"courier callback"}`); code != 403 || strings.Contains(body, "13812341234") {
		t.Fatalf("operator reveal: %d %s", code, body)
	}
	for _, ok := range []struct{ field, index, want string }{
		{"phone", phone.Index, "13812341234"},
		{"email", mail.Index, "zhang.wei@example.com"},
		{"address", addr.Index, "浙江省杭州市西湖区文三路90号"},
	} {
		code, body := reveal("agent", `{"field":"`+ok.field+`","index":"`+ok.index+`","reason":"courier callback"}`)
		var got struct{ Field, Value string }
		json.Unmarshal([]byte(body), &got)
		if code != 200 || got.Value != ok.want || got.Field != ok.field {
			t.Fatalf("reveal %s: %d %s", ok.field, code, body)
		}
	}

	entries, _, err := audit.New(db, kith.SystemClock{}).List(ctx, audit.Filter{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	reveals := map[string]int{}
	for _, e := range entries {
		for _, v := range plain {
			if strings.Contains(e.Detail, v) {
				t.Fatalf("an audit entry holds %q: %+v", v, e)
			}
		}
		if e.Action == audit.ActionPIIReveal && e.Outcome == audit.OutcomeOK {
			if e.Person != id || e.Actor.Name != "t-agent" || !strings.Contains(e.Detail, `"reason":"courier callback"`) {
				t.Errorf("reveal entry %+v", e)
			}
			var d struct{ Field string }
			json.Unmarshal([]byte(e.Detail), &d)
			reveals[d.Field]++
		}
	}
	if reveals["phone"] != 1 || reveals["email"] != 1 || reveals["address"] != 1 {
		t.Fatalf("reveals audited: %v, want one of each field", reveals)
	}
}
