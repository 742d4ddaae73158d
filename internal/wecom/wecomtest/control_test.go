package wecomtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func controlPost(t *testing.T, srv *Server, path, contentType, body string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func decodeBody(t *testing.T, res *http.Response) map[string]any {
	t.Helper()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestControlAPI(t *testing.T) {
	srv, _ := start(t, Options{})
	MustSeed(t, srv.Sandbox, 1, SeedOptions{Customers: 20})
	rc := startReceiver(t, srv)

	t.Run("event from JSON", func(t *testing.T) {
		res := controlPost(t, srv, "/sandbox/events/add_external_contact", "application/json",
			`{"userid":"lina","state":"ch_jd","add_way":"1"}`)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status %d", res.StatusCode)
		}
		out := decodeBody(t, res)
		d := out["delivery"].(map[string]any)
		if d["delivered"] != true || !strings.Contains(out["xml"].(string), "<State><![CDATA[ch_jd]]></State>") {
			t.Fatalf("answer %v", out)
		}
		if e := rc.lastEvent(t); e.UserID != "lina" || e.State != "ch_jd" {
			t.Fatalf("received %+v", e)
		}
	})
	t.Run("event from the page's form", func(t *testing.T) {
		tags := srv.TagGroups()[0].Tags
		ext := srv.CustomerIDs()[0]
		user := srv.Relations(ext)[0].UserID
		form := url.Values{"userid": {user}, "external_userid": {ext}, "remark": {"表单备注"},
			"add_tag": {tags[0].ID + ", " + tags[1].ID}}
		res := controlPost(t, srv, "/sandbox/events/edit_external_contact", "application/x-www-form-urlencoded", form.Encode())
		if res.StatusCode != http.StatusSeeOther || !strings.Contains(res.Header.Get("Location"), "delivered") {
			t.Fatalf("status %d, Location %q", res.StatusCode, res.Header.Get("Location"))
		}
		rel, _ := srv.Relation(user, ext)
		if rel.Remark != "表单备注" || len(rel.TagIDs) < 2 {
			t.Fatalf("relation %+v", rel)
		}
	})
	t.Run("errors", func(t *testing.T) {
		if res := controlPost(t, srv, "/sandbox/events/nonsense", "application/json", `{}`); res.StatusCode != http.StatusNotFound {
			t.Fatalf("unknown kind: %d", res.StatusCode)
		}
		if res := controlPost(t, srv, "/sandbox/events/add_external_contact", "application/json", `{"userid":"nobody"}`); res.StatusCode != http.StatusNotFound {
			t.Fatalf("unknown member: %d", res.StatusCode)
		}
		if res := controlPost(t, srv, "/sandbox/events/transfer_fail", "application/json", `{"userid":"lina","external_userid":"`+srv.CustomerIDs()[0]+`","fail_reason":"x"}`); res.StatusCode != http.StatusBadRequest {
			t.Fatalf("bad reason: %d", res.StatusCode)
		}
		if res := controlPost(t, srv, "/sandbox/events/add_external_contact", "application/json", `{"userid":`); res.StatusCode != http.StatusBadRequest {
			t.Fatalf("bad JSON: %d", res.StatusCode)
		}
	})
	t.Run("cross-origin posts are refused", func(t *testing.T) {
		res := controlPost(t, srv, "/sandbox/events/delete_user", "application/x-www-form-urlencoded", "userid=lina",
			"Sec-Fetch-Site", "cross-site")
		if res.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d, want 403", res.StatusCode)
		}
		if m, _ := srv.Member("lina"); m.Status != MemberActive {
			t.Fatal("a cross-origin post changed the corp")
		}
	})
	t.Run("pause, resume, faults", func(t *testing.T) {
		controlPost(t, srv, "/sandbox/delivery/pause", "application/json", "")
		res := controlPost(t, srv, "/sandbox/events/tag_create", "application/json", `{"group_name":"控制台","tag_name":"新"}`)
		if d := decodeBody(t, res)["delivery"].(map[string]any); d["queued"] != true {
			t.Fatalf("delivery while paused %v", d)
		}
		res = controlPost(t, srv, "/sandbox/delivery/resume", "application/json", "")
		if ds := decodeBody(t, res)["deliveries"].([]any); len(ds) != 1 {
			t.Fatalf("resume sent %v", ds)
		}
		res = controlPost(t, srv, "/sandbox/faults", "application/json", `{"api":"/cgi-bin/user/get","errcode":-1,"count":1}`)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("fault status %d", res.StatusCode)
		}
		wantCode(t, get(t, srv, "/cgi-bin/user/get", "userid", "lina"), CodeBusy)
		wantCode(t, get(t, srv, "/cgi-bin/user/get", "userid", "lina"), CodeOK)
		res = controlPost(t, srv, "/sandbox/delivery/verify", "application/json", "")
		if out := decodeBody(t, res); out["verified"] != true {
			t.Fatalf("verify: %v", out)
		}
	})
	t.Run("state and page", func(t *testing.T) {
		res, err := http.Get(srv.URL + "/sandbox/state")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var sum Summary
		if err := json.NewDecoder(res.Body).Decode(&sum); err != nil {
			t.Fatal(err)
		}
		if sum.CorpID != srv.CorpID() || sum.Customers < 20 || sum.StateHash != srv.StateHash() {
			t.Fatalf("state %+v", sum)
		}
		page, err := http.Get(srv.URL + "/sandbox/?msg=hello")
		if err != nil {
			t.Fatal(err)
		}
		defer page.Body.Close()
		html, _ := io.ReadAll(page.Body)
		for _, want := range []string{srv.CorpID(), "张伟", "客户等级", "hello", `action="/sandbox/events/add_external_contact"`} {
			if !strings.Contains(string(html), want) {
				t.Fatalf("page lacks %q", want)
			}
		}
	})
	t.Run("seed", func(t *testing.T) {
		res := controlPost(t, srv, "/sandbox/seed", "application/json", `{"seed":5,"customers":30}`)
		if res.StatusCode != http.StatusOK || srv.Summary().Customers != 30 {
			t.Fatalf("seed status %d, %d customers", res.StatusCode, srv.Summary().Customers)
		}
	})
}
