package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/wecom/wecomtest"
)

// TestChannelsFromTheConsole: bad input is refused naming the field, a
// WeCom refusal shows the code's meaning, and a saved channel has its QR
// code, statistics and API.
func TestChannelsFromTheConsole(t *testing.T) {
	sb, in := sandboxInstance(t, 20)
	c := newClient(t, in)
	c.login("owner", "correct horse battery staple")
	syncWithButton(t, c)
	members := sb.Members()
	tag := sb.TagGroups()[0].Tags[0].ID
	valid := func() url.Values {
		return url.Values{"kind": {"code"}, "name": {"门店海报"}, "daily_cap": {"5"}, "always": {members[0].UserID},
			"backup": {members[1].UserID}, "tag": {tag}, "welcome": {"你好 {name}"}, "skip_verify": {"on"}}
	}
	for _, tc := range []struct {
		name string
		edit func(url.Values)
		want string
	}{
		{"negative cap", func(v url.Values) { v.Set("daily_cap", "-2") }, "daily_cap: -2 is below zero"},
		{"cap not a number", func(v url.Values) { v.Set("daily_cap", "many") }, "daily_cap: &#34;many&#34; is not a whole number"},
		{"no member", func(v url.Values) { v.Del("always"); v.Del("backup") }, "members: a channel needs at least one member"},
		{"overlapping windows", func(v url.Values) {
			v.Set("shifts", "周一 09:00-12:00 "+members[2].UserID+"\nMon,Tue 11:30-13:00 "+members[2].UserID)
		}, "shifts[2]: Monday 11:30–13:00 overlaps shifts[1]"},
		{"bad shift line", func(v url.Values) { v.Set("shifts", "someday 9-12 x") }, "shifts: line 1"},
		{"state too long", func(v url.Values) { v.Set("state", strings.Repeat("s", 31)) }, "state: 31 characters"},
		{"unknown tag", func(v url.Values) { v.Add("tag", "etNOPE") }, "tags: tag 2 (&#34;etNOPE&#34;)"},
		{"unknown member", func(v url.Values) { v.Add("always", "nobody") }, "members: &#34;nobody&#34;"},
		{"welcome too long", func(v url.Values) { v.Set("welcome", strings.Repeat("欢", 1400)) }, "welcome.text: 4200 bytes"},
		{"bad link card", func(v url.Values) { v.Set("link_title", "店"); v.Set("link_url", "ftp://x") }, "welcome.attachments[1].url"},
	} {
		v := valid()
		tc.edit(v)
		resp, body := c.form("/channels", v, nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, tc.want) || !strings.Contains(body, `id="channel-form-error"`) {
			t.Errorf("%s: %d, want 400 with %q", tc.name, resp.StatusCode, tc.want)
		}
	}
	if len(sb.ContactWays()) != 0 {
		t.Fatal("refused channels reached WeCom")
	}
	// WeCom refuses: the console says what the code means and what to do.
	if err := sb.InjectFault("/cgi-bin/externalcontact/add_contact_way", wecomtest.CodeMemberNotActivated, 1); err != nil {
		t.Fatal(err)
	}
	resp, body := c.form("/channels", valid(), nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "WeCom refused (error 41054)") || !strings.Contains(body, "not activated") {
		t.Fatalf("WeCom's refusal: %d %s", resp.StatusCode, body)
	}
	resp, _ = c.form("/channels", valid(), nil)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasSuffix(loc, "?done=saved") {
		t.Fatalf("create: %d %s", resp.StatusCode, loc)
	}
	page := strings.TrimSuffix(loc, "?done=saved")
	ways := sb.ContactWays()
	if len(ways) != 1 || ways[0].Users[0] != members[0].UserID || ways[0].Remark != "门店海报" || !ways[0].SkipVerify {
		t.Fatalf("on WeCom: %+v", ways)
	}
	body = c.get(page, 200)
	mustContain(t, "channel page", body, `id="channel-qr"`, `id="stats-new">0<`, `id="channel-chart"`, ways[0].State)
	resp, _ = c.do("GET", page+"/qr?download=1", nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("QR download: %d %v", resp.StatusCode, resp.Header)
	}
	// Editing puts the new members on the code; a cap without backups is
	// flagged; a promotional welcome is refused by the gate and listed.
	v := valid()
	v.Set("always", members[2].UserID)
	v.Del("backup")
	v.Set("welcome", "你好 {name}，限时优惠全场5折！")
	if resp, body := c.form(page, v, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", resp.StatusCode, body)
	}
	if w, _ := sb.ContactWayByID(ways[0].ConfigID); len(w.Users) != 1 || w.Users[0] != members[2].UserID {
		t.Fatalf("after the edit: %+v", w)
	}
	sb.SetCallbackURL(in.URL + "/wecom/callback")
	if _, err := sb.ScanContactWay(context.Background(), ways[0].ConfigID, "周杰"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		// The refused welcome is recorded while the event is prepared and
		// the new relation when it is written: wait for both.
		body = c.get(page, 200)
		if strings.Contains(body, `id="channel-failures"`) && strings.Contains(body, `id="stats-new">1<`) {
			mustContain(t, "channel page", body, "PROMO_IN_SERVICE", `id="channel-nobackup"`)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no refused welcome and new customer 20 s after a scan:\n%s", body)
		}
	}
	if n := len(sb.WelcomesSent()); n != 0 {
		t.Fatalf("%d promotional welcome messages reached WeCom", n)
	}
	// The default welcome message.
	resp, body = c.form("/channels/welcome", url.Values{"welcome": {strings.Repeat("x", 4001)}}, nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "default_welcome.text: 4001 bytes") {
		t.Fatalf("long default welcome: %d", resp.StatusCode)
	}
	if resp, _ = c.form("/channels/welcome", url.Values{"welcome": {"欢迎 {name}"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("default welcome: %d", resp.StatusCode)
	}
	mustContain(t, "channels page", c.get("/channels", 200), "欢迎 {name}</textarea>", "门店海报")
	// The API.
	_, secret, err := in.Auth(t).CreateToken(context.Background(), "api", auth.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	api := map[string]string{"Authorization": "Bearer " + secret}
	resp, body = c.do("GET", "/api/v1"+page+"/stats", nil, api)
	var st struct {
		State string `json:"state"`
		Total struct{ New, Lost, Net int }
		Days  []any
	}
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &st) != nil || st.State != ways[0].State || len(st.Days) != 7 {
		t.Fatalf("stats API: %d %s", resp.StatusCode, body)
	}
	api["Content-Type"] = "application/json"
	resp, body = c.do("POST", "/api/v1/channels", strings.NewReader(`{"kind":"link","name":"短信","members":["`+members[1].UserID+`"],"daily_cap":-1}`), api)
	if resp.StatusCode != 400 || !strings.Contains(body, "daily_cap:") {
		t.Fatalf("API bad cap: %d %s", resp.StatusCode, body)
	}
	resp, body = c.do("POST", "/api/v1/channels", strings.NewReader(`{"kind":"link","name":"短信","state":"sms-1","members":["`+members[1].UserID+`"]}`), api)
	if resp.StatusCode != 201 || !strings.Contains(body, "work.weixin.qq.com/ca/") {
		t.Fatalf("API create link: %d %s", resp.StatusCode, body)
	}
	// Delete: gone from WeCom.
	if resp, _ := c.form(page+"/delete", nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if _, ok := sb.ContactWayByID(ways[0].ConfigID); ok {
		t.Fatal("the deleted channel's code is still on WeCom")
	}
}
