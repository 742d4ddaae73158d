package web_test

// The console's writes through to WeCom, against the local WeCom sandbox
// (package wecomtest): a sync started with the button, tags and remarks on
// a relation, and corp tags created, renamed and deleted, each checked in
// the sandbox's own state and on the page, and WeCom's refusals shown.

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/wecom/wecomtest"
)

// sandboxInstance runs a seeded sandbox and an instance connected to it
// through the KITH_WECOM_* variables.
func sandboxInstance(t *testing.T, customers int) (*wecomtest.Server, *apptest.Instance) {
	t.Helper()
	sb := wecomtest.Start(t, wecomtest.Options{})
	wecomtest.MustSeed(t, sb.Sandbox, 7, wecomtest.SeedOptions{Customers: customers, Members: 3})
	in := apptest.Start(t, apptest.Options{Env: map[string]string{
		"KITH_WECOM_CORP_ID": sb.CorpID(), "KITH_WECOM_SECRET": sb.Secret(),
		"KITH_WECOM_CALLBACK_TOKEN": wecomtest.TestCallbackToken, "KITH_WECOM_CALLBACK_AES_KEY": wecomtest.TestEncodingAESKey,
		"KITH_WECOM_API_BASE": sb.URL,
	}})
	return sb, in
}

var syncJobRe = regexp.MustCompile(`hx-get="/sync/status\?job=(\d+)"`)

// syncWithButton presses "Sync with WeCom now" as htmx does and polls the
// card, as htmx does every 2 s, until the run is over.
func syncWithButton(t *testing.T, c *client) string {
	t.Helper()
	body := c.get("/customers", 200)
	mustContain(t, "customers page", body, `id="sync-now"`, `id="sync-never"`)
	hx := map[string]string{"HX-Request": "true", "HX-Target": "sync-card", "Accept-Language": "en"}
	resp, body := c.do("POST", "/sync", nil, hx)
	m := syncJobRe.FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil || !strings.Contains(body, `hx-trigger="every 2s"`) {
		t.Fatalf("sync button: %d\n%s", resp.StatusCode, body)
	}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, body = c.do("GET", "/sync/status?job="+m[1], nil, hx)
		if resp.StatusCode != 200 {
			t.Fatalf("sync status: %d %s", resp.StatusCode, body)
		}
		if !strings.Contains(body, "every 2s") {
			return body
		}
	}
	t.Fatalf("the sync did not end within 60 s:\n%s", body)
	return ""
}

func TestWeComWriteThroughFromTheConsole(t *testing.T) {
	sb, in := sandboxInstance(t, 25)
	c := signedIn(t, in, auth.RoleAdmin)

	card := syncWithButton(t, c)
	mustContain(t, "sync card after the run", card, `id="sync-run-status">Done<`, "started in the console", "3 members")
	mustNotContain(t, "sync card after the run", card, `id="sync-error"`)
	// Without htmx the button leads back to the list, which follows the job.
	resp, _ := c.do("POST", "/sync", nil, nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/customers?sync_job=") {
		t.Fatalf("sync without htmx: %d to %q", resp.StatusCode, loc)
	}
	mustContain(t, "customers page after a sync", c.get(resp.Header.Get("Location"), 200), `id="sync-card"`, `id="sync-run-status"`)
	// Let that second sync end before changing tags: a sync still running
	// could write WeCom's state from before the change back over it.
	job := strings.TrimPrefix(resp.Header.Get("Location"), "/customers?sync_job=")
	hx := map[string]string{"HX-Request": "true", "HX-Target": "sync-card", "Accept-Language": "en"}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, body := c.do("GET", "/sync/status?job="+url.QueryEscape(job), nil, hx); !strings.Contains(body, "every 2s") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second sync did not end within 60 s")
		}
	}

	// A relation in WeCom, and a tag it does not have.
	var eid, member string
	var tags []string
	for _, id := range sb.CustomerIDs() {
		for _, r := range sb.Relations(id) {
			if !r.Half && !r.DeletedByCustomer && eid == "" {
				eid, member, tags = id, r.UserID, r.TagIDs
			}
		}
	}
	if eid == "" {
		t.Fatal("the sandbox has no relation")
	}
	var tagID, tagName string
	for _, g := range sb.TagGroups() {
		for _, tg := range g.Tags {
			if tagID == "" && !slices.Contains(tags, tg.ID) {
				tagID, tagName = tg.ID, tg.Name
			}
		}
	}
	page := "/customers/" + url.PathEscape(eid)
	relTags := func() string {
		body := c.get(page, 200)
		i := strings.Index(body, `id="rel-tags-`+member+`"`)
		if i < 0 {
			t.Fatalf("no tags of %s on %s", member, page)
		}
		return body[i : i+strings.Index(body[i:], "</dd>")]
	}
	seePost := func(path string, v url.Values) {
		t.Helper()
		resp, body := c.form(path, v, nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("POST %s %v: %d\n%s", path, v, resp.StatusCode, body)
		}
	}

	// Add a tag: in WeCom, then on the page.
	seePost(page+"/tags", url.Values{"member": {member}, "add": {tagID}})
	if r, _ := sb.Relation(member, eid); !slices.Contains(r.TagIDs, tagID) {
		t.Fatalf("WeCom's relation has tags %v, want %s added", r.TagIDs, tagID)
	}
	mustContain(t, "relation tags after adding", relTags(), tagName)
	mustContain(t, "page after adding", c.get(page+"?done=tags", 200), "The tags were changed in WeCom.")
	// Remove it again.
	seePost(page+"/tags", url.Values{"member": {member}, "remove": {tagID}})
	if r, _ := sb.Relation(member, eid); slices.Contains(r.TagIDs, tagID) {
		t.Fatalf("WeCom's relation still has %s", tagID)
	}
	mustNotContain(t, "relation tags after removing", relTags(), tagName)

	// Remark and description.
	seePost(page+"/remark", url.Values{"member": {member}, "remark": {"控制台备注"}, "description": {"来自 Kith 控制台"}})
	if r, _ := sb.Relation(member, eid); r.Remark != "控制台备注" || r.Description != "来自 Kith 控制台" {
		t.Fatalf("WeCom's remark %q / %q", r.Remark, r.Description)
	}
	mustContain(t, "page after the remark", c.get(page, 200), "控制台备注", "来自 Kith 控制台")

	// WeCom refuses: its error and meaning are shown, nothing changes here.
	if err := sb.InjectFault("/cgi-bin/externalcontact/mark_tag", wecomtest.CodeInvalidTagID, 1); err != nil {
		t.Fatal(err)
	}
	resp, body := c.form(page+"/tags", url.Values{"member": {member}, "add": {tagID}}, map[string]string{"Accept-Language": "en"})
	if resp.StatusCode != 400 || !strings.Contains(body, `id="rel-error-`+member+`"`) || !strings.Contains(body, "WeCom refused (error 40068)") ||
		!strings.Contains(body, "does not exist any more") {
		t.Fatalf("refused tagging: %d\n%s", resp.StatusCode, body)
	}
	mustNotContain(t, "relation tags after a refusal", relTags(), tagName)
}

func TestWeComCorpTagsFromTheConsole(t *testing.T) {
	sb, in := sandboxInstance(t, 5)
	c := signedIn(t, in, auth.RoleOperator)
	groupByName := func(name string) *wecomtest.TagGroup {
		for _, g := range sb.TagGroups() {
			if g.Name == name {
				return &g
			}
		}
		return nil
	}

	// A new group with two tags.
	resp, body := c.form("/tags", url.Values{"group_name": {"控制台测试"}, "names": {"甲，乙"}}, nil)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/tags?done=created#group-") {
		t.Fatalf("create: %d %s\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	g := groupByName("控制台测试")
	if g == nil || len(g.Tags) != 2 {
		t.Fatalf("WeCom's new group: %+v", g)
	}
	body = c.get("/tags?done=created", 200)
	mustContain(t, "tags page", body, "The tags were created in WeCom.", `id="group-`+g.ID+`"`, "控制台测试", "甲", "乙")

	// Add a tag to it, rename one, delete one, delete the group.
	if resp, body := c.form("/tags", url.Values{"group_id": {g.ID}, "names": {"丁"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("add to group: %d\n%s", resp.StatusCode, body)
	}
	if g = groupByName("控制台测试"); len(g.Tags) != 3 {
		t.Fatalf("after adding: %d tags", len(g.Tags))
	}
	var jia string
	for _, tg := range g.Tags {
		if tg.Name == "甲" {
			jia = tg.ID
		}
	}
	if resp, body := c.form("/tags/"+jia+"/rename", url.Values{"name": {"丙"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("rename: %d\n%s", resp.StatusCode, body)
	}
	if g = groupByName("控制台测试"); !slices.ContainsFunc(g.Tags, func(tg *wecomtest.Tag) bool { return tg.ID == jia && tg.Name == "丙" }) {
		t.Fatal("WeCom's tag was not renamed")
	}
	mustContain(t, "tags page after renaming", c.get("/tags", 200), "丙")
	mustContain(t, "confirm page", c.get("/tags/"+jia+"/delete", 200), "Delete the tag &#34;丙&#34; of the group &#34;控制台测试&#34;?")
	if resp, body := c.form("/tags/"+jia+"/delete", url.Values{"confirm": {"yes"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete tag: %d\n%s", resp.StatusCode, body)
	}
	if g = groupByName("控制台测试"); len(g.Tags) != 2 {
		t.Fatalf("after deleting a tag: %d tags", len(g.Tags))
	}
	if resp, body := c.form("/tags/"+g.ID+"/delete", url.Values{"confirm": {"yes"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete group: %d\n%s", resp.StatusCode, body)
	}
	if groupByName("控制台测试") != nil {
		t.Fatal("WeCom still has the group")
	}
	mustNotContain(t, "tags page after deleting", c.get("/tags?done=deleted", 200), "控制台测试")

	// A tag the app did not create cannot be renamed through the API; the
	// sync brought the demo tags in, and WeCom's refusal shows beside the
	// tag.
	syncWithButton(t, signedIn(t, in, auth.RoleOwner))
	demo := sb.TagGroups()[0].Tags[0]
	resp, body = c.form("/tags/"+demo.ID+"/rename", url.Values{"name": {"改名"}}, map[string]string{"Accept-Language": "en"})
	if resp.StatusCode != 400 || !strings.Contains(body, `id="tag-error-`+demo.ID+`"`) || !strings.Contains(body, "WeCom refused (error 301002)") {
		t.Fatalf("renaming a demo tag: %d\n%s", resp.StatusCode, body)
	}
	if sb.TagGroups()[0].Tags[0].Name != demo.Name {
		t.Fatal("the demo tag was renamed")
	}
}
