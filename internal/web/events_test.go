package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/auth"
)

var eventRowRe = regexp.MustCompile(`<tr id="event-(\d+)">`)

func eventRows(body string) []string {
	var out []string
	for _, m := range eventRowRe.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestEventsPage(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	db := mustStore(t, in)
	at := time.Date(2025, 5, 1, 8, 0, 0, 0, time.UTC)
	var ids []int64
	for i := range 5 {
		ids = append(ids, insertEvent(t, db, "change_external_contact/add_external_contact", "applied", "", 1, at.Add(time.Duration(i)*time.Minute)))
	}
	failed := insertEvent(t, db, "change_external_contact/edit_external_contact", "failed", "wecom: externalcontact/get: errcode 84061", 12, at.Add(time.Hour))
	insertEvent(t, db, "change_external_chat/create", "stored", "", 0, at.Add(2*time.Hour))
	pending := insertEvent(t, db, "change_external_tag/create", "pending", "", 2, at.Add(3*time.Hour))

	c := signedIn(t, in, auth.RoleAuditor)
	body := c.get("/events", 200)
	mustContain(t, "events page", body,
		`id="count-applied">5<`, `id="count-failed">1<`, `id="count-stored">1<`, `id="count-pending">1<`, "All <span class=\"count\">8</span>",
		"change_external_contact/edit_external_contact", "errcode 84061", "applied", "failed", "stored", "pending")
	if rows := eventRows(body); len(rows) != 8 || rows[0] != fmt.Sprint(pending) {
		t.Fatalf("rows %v, want 8 newest first", rows)
	}
	// Filtered by status.
	body = c.get("/events?status=failed", 200)
	if rows := eventRows(body); len(rows) != 1 || rows[0] != fmt.Sprint(failed) {
		t.Fatalf("failed events: %v", rows)
	}
	mustContain(t, "failed tab", body, `aria-current="page" id="events-failed"`, "errcode 84061")
	// Keyset pages of 2 applied events.
	body = c.get("/events?status=applied&limit=2", 200)
	if rows := eventRows(body); len(rows) != 2 || rows[0] != fmt.Sprint(ids[4]) {
		t.Fatalf("first page: %v", rows)
	}
	next := regexp.MustCompile(`<a href="([^"]*)" id="events-next"`).FindStringSubmatch(body)
	if next == nil || !strings.Contains(next[1], fmt.Sprintf("before=%d", ids[3])) || !strings.Contains(next[1], "status=applied") {
		t.Fatalf("next link: %v", next)
	}
	body = c.get(strings.ReplaceAll(next[1], "&amp;", "&"), 200)
	if rows := eventRows(body); len(rows) != 2 || rows[0] != fmt.Sprint(ids[2]) {
		t.Fatalf("second page: %v", rows)
	}

	// One event, with its decrypted body.
	body = c.get(fmt.Sprintf("/events/%d", failed), 200)
	mustContain(t, "event page", body, "change_external_contact/edit_external_contact", "errcode 84061", "&lt;xml&gt;&lt;ToUserName&gt;", `id="event-body"`)
	c.get("/events/abc", 400)
	c.get("/events/0", 400)
	c.get("/events/99999", 404)
	for _, q := range []string{"status=done", "before=x", "limit=501"} {
		c.get("/events?"+q, 400)
	}
	// Agents do not see events.
	signedIn(t, in, auth.RoleAgent).get("/events", 403)
}

func TestEventsAPI(t *testing.T) {
	in := apptest.Start(t, apptest.Options{})
	db := mustStore(t, in)
	at := time.Date(2025, 5, 1, 8, 0, 0, 0, time.UTC)
	insertEvent(t, db, "change_external_contact/add_external_contact", "applied", "", 1, at)
	insertEvent(t, db, "change_external_tag/delete", "failed", "boom", 12, at.Add(time.Minute))
	_, token, err := in.Auth(t).CreateToken(context.Background(), "audit", auth.RoleAuditor)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, in)
	resp, body := c.do("GET", "/api/v1/events?status=failed", nil, map[string]string{"Authorization": "Bearer " + token})
	var out struct {
		Events []struct {
			Kind, Status, Error, Body string
			Attempts                  int
			AppliedAt                 *string `json:"applied_at"`
		}
		NextBefore *int64 `json:"next_before"`
	}
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &out) != nil {
		t.Fatalf("events API: %d %s", resp.StatusCode, body)
	}
	if len(out.Events) != 1 || out.Events[0].Kind != "change_external_tag/delete" || out.Events[0].Error != "boom" ||
		out.Events[0].Attempts != 12 || !strings.HasPrefix(out.Events[0].Body, "<xml>") || out.Events[0].AppliedAt != nil || out.NextBefore != nil {
		t.Fatalf("events API: %s", body)
	}
	resp, body = c.do("GET", "/api/v1/events?status=nope", nil, map[string]string{"Authorization": "Bearer " + token})
	if resp.StatusCode != 400 || !strings.Contains(body, "unknown status") {
		t.Fatalf("bad status: %d %s", resp.StatusCode, body)
	}
}
