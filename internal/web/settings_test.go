package web_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/auth"
)

const (
	testSecret = "s3cr3t-app-secret-value"
	testToken  = "CallbackTok3n"
	testAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
)

func TestWeComSettingsSaveKeepsSecretsHidden(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	c := signedIn(t, in, auth.RoleAdmin)
	body := c.get("/settings/wecom", 200)
	mustContain(t, "empty settings", body, "WeCom is not connected yet.", `id="set-secret">not set<`,
		`<code class="copy" id="callback-url">`+in.URL+`/wecom/callback</code>`)

	save := url.Values{"form": {"wecom"}, "corp_id": {"wwkith0001"}, "agent_id": {"1000002"}, "secret": {testSecret},
		"callback_token": {testToken}, "callback_aes_key": {testAESKey}, "api_base": {""}}
	resp, body := c.form("/settings/wecom", save, nil)
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/settings/wecom?saved=1" {
		t.Fatalf("save: %d %s", resp.StatusCode, body)
	}
	body = c.get("/settings/wecom?saved=1", 200)
	mustContain(t, "saved settings", body, `id="settings-saved"`, "WeCom is connected", `value="wwkith0001"`, `value="1000002"`,
		`id="set-secret">set<`, `id="set-callback_token">set<`, `id="set-callback_aes_key">set<`)
	mustNotContain(t, "saved settings", body, testSecret, testToken, testAESKey)

	// Stored sealed: the database holds no secret in the clear.
	db := mustStore(t, in)
	rows, err := db.R.QueryContext(context.Background(), "SELECT key, value FROM settings")
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]string{}
	for rows.Next() {
		var k, v string
		rows.Scan(&k, &v)
		stored[k] = v
	}
	rows.Close()
	for k, secret := range map[string]string{"wecom.secret": testSecret, "wecom.callback_token": testToken, "wecom.callback_aes_key": testAESKey} {
		if v := stored[k]; v == "" || strings.Contains(v, secret) {
			t.Errorf("%s is stored as %q", k, v)
		}
	}
	if stored["wecom.corp_id"] != "wwkith0001" {
		t.Errorf("corp id stored as %q", stored["wecom.corp_id"])
	}

	// Saving with empty secret fields keeps them.
	save.Set("secret", "")
	save.Set("callback_token", "")
	save.Set("callback_aes_key", "")
	save.Set("corp_id", "wwkith0002")
	if resp, body := c.form("/settings/wecom", save, nil); resp.StatusCode != 303 {
		t.Fatalf("second save: %d %s", resp.StatusCode, body)
	}
	body = c.get("/settings/wecom", 200)
	mustContain(t, "settings after keeping secrets", body, `value="wwkith0002"`, `id="set-secret">set<`, "WeCom is connected")

	// Refusals are shown in the form, with what was typed (never secrets).
	cases := []struct {
		change url.Values
		says   string
	}{
		{url.Values{"callback_aes_key": {"short"}}, "EncodingAESKey: must be exactly 43"},
		{url.Values{"corp_id": {"not a corp"}}, "is not a WeCom corp ID"},
		{url.Values{"agent_id": {"12x"}}, "The agent ID must be a whole number above 0"},
		{url.Values{"api_base": {"ftp://example.com"}}, "is not an http(s) address"},
		{url.Values{"form": {""}}, "The form was incomplete"},
	}
	for _, cs := range cases {
		v := url.Values{"form": {"wecom"}, "corp_id": {"wwkith0002"}, "secret": {"typed-secret-123"}}
		for k, vals := range cs.change {
			v[k] = vals
		}
		resp, body := c.form("/settings/wecom", v, map[string]string{"Accept-Language": "en"})
		if resp.StatusCode != 400 || !strings.Contains(body, cs.says) || !strings.Contains(body, `id="settings-error"`) {
			t.Errorf("%v: %d, want 400 saying %q", cs.change, resp.StatusCode, cs.says)
		}
		mustNotContain(t, "refused settings", body, "typed-secret-123")
	}
	_, body = c.form("/settings/wecom", url.Values{"form": {"wecom"}, "corp_id": {"not a corp"}}, nil)
	mustContain(t, "refused settings", body, `value="not a corp"`)

	// Operators and agents may not open the settings.
	signedIn(t, in, auth.RoleOperator).get("/settings/wecom", 403)
}

func TestWeComSettingsFromTheEnvironmentAreReadOnly(t *testing.T) {
	in := apptest.Start(t, apptest.Options{Env: map[string]string{"KITH_WECOM_CORP_ID": "wwfromenv01", "KITH_WECOM_SECRET": "env-secret-value"}})
	c := signedIn(t, in, auth.RoleOwner)
	body := c.get("/settings/wecom", 200)
	mustContain(t, "settings with env", body,
		`<input id="f-corp_id" value="wwfromenv01" disabled>`, `id="env-corp_id"`, "KITH_WECOM_CORP_ID",
		`id="env-secret"`, "KITH_WECOM_SECRET", `id="set-secret">set<`)
	mustNotContain(t, "settings with env", body, "env-secret-value", `name="corp_id"`, `name="secret"`)

	resp, body := c.form("/settings/wecom", url.Values{"form": {"wecom"}, "corp_id": {"wwother0001"}}, map[string]string{"Accept-Language": "en"})
	if resp.StatusCode != 400 || !strings.Contains(body, "corp_id is set by the environment (KITH_WECOM_CORP_ID)") {
		t.Fatalf("changing an env field: %d\n%s", resp.StatusCode, body)
	}
	// The other fields save.
	resp, body = c.form("/settings/wecom", url.Values{"form": {"wecom"}, "callback_token": {testToken}, "callback_aes_key": {testAESKey}}, nil)
	if resp.StatusCode != 303 {
		t.Fatalf("save beside env fields: %d %s", resp.StatusCode, body)
	}
	body = c.get("/settings/wecom", 200)
	mustContain(t, "settings with env after save", body, "WeCom is connected", `value="wwfromenv01"`)
}

func TestSyncWhenWeComIsNotConnected(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	owner := signedIn(t, in, auth.RoleOwner)
	body := owner.get("/customers", 200)
	mustContain(t, "customers page", body, `id="sync-card"`, `id="sync-notconfigured"`, "WeCom is not connected yet.",
		`<a href="/settings/wecom" id="sync-settings-link">`, `id="sync-never"`)
	mustNotContain(t, "customers page", body, `id="sync-now"`, `hx-trigger="every 2s"`)

	resp, body := owner.do("POST", "/sync", nil, map[string]string{"HX-Request": "true", "Accept-Language": "en"})
	if resp.StatusCode != 409 || !strings.Contains(body, `id="sync-card"`) || !strings.Contains(body, "WeCom is not connected yet.") {
		t.Fatalf("sync without WeCom: %d\n%s", resp.StatusCode, body)
	}
	resp, body = owner.do("POST", "/sync", nil, map[string]string{"Accept-Language": "en"})
	if resp.StatusCode != 409 || !strings.Contains(body, "Settings") {
		t.Fatalf("sync without WeCom, without htmx: %d\n%s", resp.StatusCode, body)
	}
	var jobs int
	if err := mustStore(t, in).R.QueryRow("SELECT count(*) FROM river_job WHERE kind = 'wecom.full_sync'").Scan(&jobs); err != nil || jobs != 0 {
		t.Fatalf("%d sync jobs enqueued (%v), want none", jobs, err)
	}
	owner.get("/sync/status", 200)
	owner.get("/sync/status?job=x", 400)

	// Roles that may not sync see no card and cannot start one.
	op := signedIn(t, in, auth.RoleOperator)
	mustNotContain(t, "operator's customers page", op.get("/customers", 200), `id="sync-card"`)
	if resp, _ := op.do("POST", "/sync", nil, nil); resp.StatusCode != 403 {
		t.Fatalf("operator sync: %d", resp.StatusCode)
	}
}

func TestTagChangesNeedValidInputAndWeCom(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	seedDirectory(t, mustStore(t, in), 3)
	c := signedIn(t, in, auth.RoleOperator)
	body := c.get("/tags", 200)
	mustContain(t, "tags page", body, `id="group-grp-level"`, "客户等级", "VIP", "普通", "来源", "门店", `id="new-group-name"`,
		"WeCom is not connected yet.", `id="delete-tag-vip"`)
	post := func(path string, v url.Values, want int, says string) {
		t.Helper()
		resp, body := c.form(path, v, map[string]string{"Accept-Language": "en"})
		if resp.StatusCode != want || !strings.Contains(body, says) {
			t.Errorf("POST %s %v: %d, want %d saying %q", path, v, resp.StatusCode, want, says)
		}
	}
	post("/tags", url.Values{"names": {"甲"}}, 400, "names have 1 to 30 characters")
	post("/tags", url.Values{"group_name": {strings.Repeat("组", 31)}, "names": {"甲"}}, 400, "names have 1 to 30 characters")
	post("/tags", url.Values{"group_name": {"新组"}, "names": {" , ，"}}, 400, "Type at least one tag name.")
	post("/tags", url.Values{"group_name": {"新组"}, "names": {"甲,甲"}}, 400, "listed twice")
	post("/tags", url.Values{"group_name": {"新组"}, "names": {"甲\n" + strings.Repeat("乙", 31)}}, 400, "names have 1 to 30 characters")
	post("/tags", url.Values{"group_id": {"grp-level"}, "names": {"VIP"}}, 400, "exists in &#34;客户等级&#34; already")
	post("/tags", url.Values{"group_id": {"grp-gone"}, "names": {"甲"}}, 400, "no longer exists")
	post("/tags/tag-vip/rename", url.Values{"name": {""}}, 400, "names have 1 to 30 characters")
	post("/tags/tag-gone/rename", url.Values{"name": {"x"}}, 404, "No tag or tag group has the id")
	post("/tags/tag-vip/delete", nil, 400, "Confirm the deletion")
	post("/tags/tag-gone/delete", url.Values{"confirm": {"yes"}}, 404, "No tag or tag group")
	// Valid changes wait for WeCom.
	post("/tags", url.Values{"group_name": {"新组"}, "names": {"甲，乙"}}, 409, "WeCom is not connected yet.")
	post("/tags/tag-vip/rename", url.Values{"name": {"SVIP"}}, 409, "WeCom is not connected yet.")
	post("/tags/grp-level/delete", url.Values{"confirm": {"yes"}}, 409, "WeCom is not connected yet.")
	// The refused form keeps its input.
	_, body = c.form("/tags", url.Values{"group_name": {"新组"}, "names": {"甲,甲"}}, nil)
	mustContain(t, "refused create", body, `id="tag-create-error"`, `value="新组"`, `value="甲,甲"`)
	// The confirmation page says what goes.
	body = c.get("/tags/grp-level/delete", 200)
	mustContain(t, "confirm page", body, "Delete the group &#34;客户等级&#34; with its 2 tags?", `action="/tags/grp-level/delete"`, `name="confirm" value="yes"`)
	body = c.get("/tags/tag-shop/delete", 200)
	mustContain(t, "confirm page", body, "Delete the tag &#34;门店&#34; of the group &#34;来源&#34;?")
	// Agents see the tags, without forms; they may not change them.
	agent := signedIn(t, in, auth.RoleAgent)
	body = agent.get("/tags", 200)
	mustContain(t, "agent's tags page", body, "VIP")
	mustNotContain(t, "agent's tags page", body, `id="new-group-name"`, `id="delete-tag-vip"`)
	agent.get("/tags/tag-vip/delete", 403)
}
