package wecomtest

import (
	"bytes"
	"context"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

const (
	addWayPath    = "/cgi-bin/externalcontact/add_contact_way"
	updateWayPath = "/cgi-bin/externalcontact/update_contact_way"
	getWayPath    = "/cgi-bin/externalcontact/get_contact_way"
	delWayPath    = "/cgi-bin/externalcontact/del_contact_way"
	welcomePath   = "/cgi-bin/externalcontact/send_welcome_msg"
	createLinkAPI = "/cgi-bin/externalcontact/customer_acquisition/create_link"
	updateLinkAPI = "/cgi-bin/externalcontact/customer_acquisition/update_link"
	getLinkAPI    = "/cgi-bin/externalcontact/customer_acquisition/get"
	deleteLinkAPI = "/cgi-bin/externalcontact/customer_acquisition/delete_link"
)

func TestContactWayLimitsAndCodes(t *testing.T) {
	srv, _ := start(t, Options{})
	MustSeed(t, srv.Sandbox, 3, SeedOptions{Customers: 10})
	ids := memberIDs(srv)
	way := func(fields map[string]any) map[string]any {
		b := map[string]any{"type": 2, "scene": 2, "state": "poster", "user": ids[:2]}
		for k, v := range fields {
			b[k] = v
		}
		return b
	}
	many := make([]string, 101)
	for i := range many {
		many[i] = ids[i%len(ids)]
	}
	for _, tc := range []struct {
		name   string
		body   map[string]any
		code   int
		reason string
	}{
		{"too many members", way(map[string]any{"user": many}), CodeContactWayTooManyUsers, ""},
		{"state too long", way(map[string]any{"state": strings.Repeat("状", 31)}), CodeInvalidParameter, "state"},
		{"remark too long", way(map[string]any{"remark": strings.Repeat("r", 31)}), CodeInvalidParameter, "remark"},
		{"unknown member", way(map[string]any{"user": []string{"nobody"}}), CodeInvalidUserID, ""},
		{"bad type", way(map[string]any{"type": 3}), CodeInvalidParameter, "type"},
		{"single with two", way(map[string]any{"type": 1}), CodeInvalidParameter, "single"},
		{"nobody", way(map[string]any{"user": []string{}}), CodeInvalidParameter, "empty"},
	} {
		r := post(t, srv, addWayPath, tc.body)
		if r.code() != tc.code || !strings.Contains(r.str("errmsg"), tc.reason) {
			t.Errorf("%s: %d %s, want %d", tc.name, r.code(), r.str("errmsg"), tc.code)
		}
	}
	r := post(t, srv, addWayPath, way(nil))
	wantCode(t, r, CodeOK)
	id, qr := r.str("config_id"), r.str("qr_code")
	if id == "" || !strings.HasSuffix(qr, "/sandbox/qr/"+id+".png") {
		t.Fatalf("add: %v", r)
	}
	// The QR image is a PNG.
	resp, err := http.Get(qr)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if _, err := png.Decode(bytes.NewReader(body)); err != nil || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("QR image: %v %s", err, resp.Header.Get("Content-Type"))
	}
	wantCode(t, post(t, srv, updateWayPath, map[string]any{"config_id": id, "user": many}), CodeContactWayTooManyUsers)
	wantCode(t, post(t, srv, updateWayPath, map[string]any{"config_id": id, "user": ids[2:5], "state": "poster2"}), CodeOK)
	got := post(t, srv, getWayPath, map[string]any{"config_id": id})
	wantCode(t, got, CodeOK)
	cw := got["contact_way"].(map[string]any)
	if cw["state"] != "poster2" || len(cw["user"].([]any)) != 3 || cw["skip_verify"] != true {
		t.Fatalf("get: %v", cw)
	}
	wantCode(t, post(t, srv, updateWayPath, map[string]any{"config_id": "nope"}), CodeInvalidConfigID)
	wantCode(t, post(t, srv, delWayPath, map[string]any{"config_id": id}), CodeOK)
	wantCode(t, post(t, srv, getWayPath, map[string]any{"config_id": id}), CodeInvalidConfigID)
	// A member who left, and the quota.
	if _, err := srv.MemberLeaves(context.Background(), ids[0]); err != nil {
		t.Fatal(err)
	}
	wantCode(t, post(t, srv, addWayPath, way(nil)), CodeInvalidUserID)
	srv.SetContactWayQuota(1)
	wantCode(t, post(t, srv, addWayPath, way(map[string]any{"user": ids[1:2]})), CodeContactWayQuota)
}

func TestWelcomeCodeOnceWithin20Seconds(t *testing.T) {
	srv, clock := start(t, Options{})
	MustSeed(t, srv.Sandbox, 3, SeedOptions{Customers: 10})
	startReceiver(t, srv)
	ctx := context.Background()
	ids := memberIDs(srv)
	r := post(t, srv, addWayPath, map[string]any{"type": 2, "scene": 2, "state": "s1", "user": ids[:3]})
	wantCode(t, r, CodeOK)
	cfg := r.str("config_id")
	// Round robin in queue order, the state on every event.
	var scans []Scan
	for range 6 {
		sc, err := srv.ScanContactWay(ctx, cfg, "")
		if err != nil || !sc.Delivered || sc.State != "s1" || sc.WelcomeCode == "" {
			t.Fatalf("scan: %+v %v", sc, err)
		}
		scans = append(scans, sc)
	}
	for i, sc := range scans {
		if sc.UserID != ids[i%3] {
			t.Fatalf("scan %d went to %s, want %s", i, sc.UserID, ids[i%3])
		}
	}
	send := func(code, text string) resp {
		return post(t, srv, welcomePath, map[string]any{"welcome_code": code, "text": map[string]any{"content": text}})
	}
	wantCode(t, send("", "hi"), CodeWelcomeCodeMissing)
	wantCode(t, send(scans[0].WelcomeCode, strings.Repeat("x", 4001)), CodeInvalidParameter)
	wantCode(t, post(t, srv, welcomePath, map[string]any{"welcome_code": scans[0].WelcomeCode, "attachments": make([]map[string]any, 10)}), CodeInvalidParameter)
	wantCode(t, send(scans[0].WelcomeCode, "你好"), CodeOK)
	wantCode(t, send(scans[0].WelcomeCode, "你好"), CodeWelcomeAlreadyChatting)
	wantCode(t, send("made-up", "你好"), CodeWelcomeCodeExpired)
	clock.Add(WelcomeCodeTTL + time.Second)
	wantCode(t, send(scans[1].WelcomeCode, "你好"), CodeWelcomeCodeExpired)
	sent := srv.WelcomesSent()
	if len(sent) != 1 || sent[0].ExternalUserID != scans[0].ExternalUserID || sent[0].UserID != ids[0] || sent[0].Text != "你好" {
		t.Fatalf("sent: %+v", sent)
	}
	// Shrinking the code: the next scans go to who is left on it.
	wantCode(t, post(t, srv, updateWayPath, map[string]any{"config_id": cfg, "user": ids[3:4]}), CodeOK)
	if sc, _ := srv.ScanContactWay(ctx, cfg, ""); sc.UserID != ids[3] {
		t.Fatalf("after update: %+v", sc)
	}
}

func TestLinks(t *testing.T) {
	srv, _ := start(t, Options{})
	MustSeed(t, srv.Sandbox, 3, SeedOptions{Customers: 10})
	startReceiver(t, srv)
	ids := memberIDs(srv)
	wantCode(t, post(t, srv, createLinkAPI, map[string]any{"link_name": "短信"}), CodeInvalidParameter)
	r := post(t, srv, createLinkAPI, map[string]any{"link_name": "短信", "range": map[string]any{"user_list": ids[:2]}, "skip_verify": true})
	wantCode(t, r, CodeOK)
	link := r["link"].(map[string]any)
	id := link["link_id"].(string)
	if !strings.HasPrefix(link["url"].(string), "https://work.weixin.qq.com/ca/") {
		t.Fatalf("link: %v", link)
	}
	wantCode(t, post(t, srv, updateLinkAPI, map[string]any{"link_id": id, "range": map[string]any{"user_list": ids[4:5]}}), CodeOK)
	g := post(t, srv, getLinkAPI, map[string]any{"link_id": id})
	if g.code() != 0 || len(g["range"].(map[string]any)["user_list"].([]any)) != 1 {
		t.Fatalf("get: %v", g)
	}
	sc, err := srv.OpenLink(context.Background(), id, "sms-1111", "")
	if err != nil || sc.UserID != ids[4] || sc.State != "sms-1111" {
		t.Fatalf("open: %+v %v", sc, err)
	}
	if _, err := srv.OpenLink(context.Background(), id, strings.Repeat("c", 65), ""); err == nil {
		t.Fatal("a customer_channel over 64 bytes was accepted")
	}
	wantCode(t, post(t, srv, deleteLinkAPI, map[string]any{"link_id": id}), CodeOK)
	wantCode(t, post(t, srv, getLinkAPI, map[string]any{"link_id": id}), CodeInvalidConfigID)
}
