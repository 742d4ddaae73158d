package wecomtest

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

const (
	tagListPath = "/cgi-bin/externalcontact/get_corp_tag_list"
	tagAddPath  = "/cgi-bin/externalcontact/add_corp_tag"
	tagEditPath = "/cgi-bin/externalcontact/edit_corp_tag"
	tagDelPath  = "/cgi-bin/externalcontact/del_corp_tag"
	markTagPath = "/cgi-bin/externalcontact/mark_tag"
)

type tagIn struct {
	Name  string `json:"name"`
	Order int    `json:"order,omitempty"`
}

func addTags(t *testing.T, srv *Server, group string, names ...string) resp {
	t.Helper()
	var tags []tagIn
	for _, n := range names {
		tags = append(tags, tagIn{Name: n})
	}
	return post(t, srv, tagAddPath, map[string]any{"group_name": group, "tag": tags})
}

// groupsOf decodes tag_group from get_corp_tag_list.
func groupsOf(r resp) map[string][]string {
	out := map[string][]string{}
	for _, g := range r.list("tag_group") {
		gm := g.(map[string]any)
		name := gm["group_name"].(string)
		out[name] = []string{}
		for _, tg := range gm["tag"].([]any) {
			out[name] = append(out[name], tg.(map[string]any)["name"].(string))
		}
	}
	return out
}

func TestCorpTags(t *testing.T) {
	srv, _ := start(t, Options{})

	r := post(t, srv, tagAddPath, map[string]any{"group_name": "会员", "order": 9,
		"tag": []tagIn{{Name: "黄金", Order: 2}, {Name: "白银", Order: 1}, {Name: "黄金"}}})
	wantCode(t, r, CodeOK)
	tg := r["tag_group"].(map[string]any)
	groupID := tg["group_id"].(string)
	tags := tg["tag"].([]any)
	if !strings.HasPrefix(groupID, "et") || tg["group_name"] != "会员" || len(tags) != 2 {
		t.Fatalf("add_corp_tag = %v, want one group with two tags (the repeated name once)", tg)
	}
	goldID := tags[0].(map[string]any)["id"].(string)
	if !strings.HasPrefix(goldID, "et") {
		t.Fatalf("tag id %q does not start with et", goldID)
	}

	t.Run("add to the group by id and by name", func(t *testing.T) {
		wantCode(t, post(t, srv, tagAddPath, map[string]any{"group_id": groupID, "tag": []tagIn{{Name: "青铜"}}}), CodeOK)
		wantCode(t, addTags(t, srv, "会员", "钻石"), CodeOK)
		got := groupsOf(post(t, srv, tagListPath, map[string]any{}))
		if len(got["会员"]) != 4 {
			t.Fatalf("group 会员 = %v", got["会员"])
		}
	})
	t.Run("errors", func(t *testing.T) {
		wantCode(t, addTags(t, srv, "会员", "黄金"), CodeTagNameExists)
		wantCode(t, addTags(t, srv, "会员", strings.Repeat("长", 31)), CodeInvalidTagNameLength)
		wantCode(t, addTags(t, srv, strings.Repeat("长", 31), "x"), CodeInvalidTagNameLength)
		wantCode(t, addTags(t, srv, "空组"), CodeTagNameMissing)
		wantCode(t, post(t, srv, tagAddPath, map[string]any{"group_id": "etnope", "tag": []tagIn{{Name: "x"}}}), CodeInvalidTagID)
		wantCode(t, post(t, srv, tagAddPath, map[string]any{"tag": []tagIn{{Name: "x"}}}), CodeInvalidParameter)
	})
	t.Run("filters", func(t *testing.T) {
		wantCode(t, addTags(t, srv, "兴趣", "旅行"), CodeOK)
		got := groupsOf(post(t, srv, tagListPath, map[string]any{"tag_id": []string{goldID}}))
		if len(got) != 1 || len(got["会员"]) != 1 || got["会员"][0] != "黄金" {
			t.Fatalf("by tag_id = %v", got)
		}
		// group_id wins over tag_id.
		got = groupsOf(post(t, srv, tagListPath, map[string]any{"tag_id": []string{goldID}, "group_id": []string{groupID}}))
		if len(got["会员"]) != 4 || len(got) != 1 {
			t.Fatalf("by group_id = %v", got)
		}
		// Larger order first.
		all := post(t, srv, tagListPath, nil).list("tag_group")
		if all[0].(map[string]any)["group_name"] != "会员" {
			t.Fatalf("group with order 9 not listed first: %v", all)
		}
	})
	t.Run("edit", func(t *testing.T) {
		wantCode(t, post(t, srv, tagEditPath, map[string]any{"id": goldID, "name": "金卡", "order": 5}), CodeOK)
		wantCode(t, post(t, srv, tagEditPath, map[string]any{"id": goldID, "name": "白银"}), CodeTagNameExists)
		wantCode(t, post(t, srv, tagEditPath, map[string]any{"id": groupID, "name": "兴趣"}), CodeTagNameExists)
		wantCode(t, post(t, srv, tagEditPath, map[string]any{"id": groupID, "name": "会员等级"}), CodeOK)
		wantCode(t, post(t, srv, tagEditPath, map[string]any{"id": "etnope", "name": "x"}), CodeInvalidTagID)
		wantCode(t, post(t, srv, tagEditPath, map[string]any{"id": goldID, "name": strings.Repeat("a", 31)}), CodeInvalidTagNameLength)
		got := groupsOf(post(t, srv, tagListPath, nil))
		if !strings.Contains(strings.Join(got["会员等级"], ","), "金卡") {
			t.Fatalf("after edit = %v", got)
		}
	})
	t.Run("delete", func(t *testing.T) {
		wantCode(t, post(t, srv, tagDelPath, map[string]any{}), CodeInvalidTagID)
		wantCode(t, post(t, srv, tagDelPath, map[string]any{"tag_id": []string{"etnope"}}), CodeInvalidTagID)
		wantCode(t, post(t, srv, tagDelPath, map[string]any{"tag_id": []string{goldID}}), CodeOK)
		// A query by id shows the deleted tag as deleted.
		r := post(t, srv, tagListPath, map[string]any{"tag_id": []string{goldID}})
		tg := r.list("tag_group")[0].(map[string]any)["tag"].([]any)[0].(map[string]any)
		if tg["deleted"] != true {
			t.Fatalf("deleted tag = %v", tg)
		}
		if _, ok := groupsOf(post(t, srv, tagListPath, nil))["会员等级"]; !ok {
			t.Fatal("group vanished while it has tags")
		}
		// Deleting a group's last tag deletes the group.
		lone := addTags(t, srv, "单独", "唯一")["tag_group"].(map[string]any)["tag"].([]any)[0].(map[string]any)["id"]
		wantCode(t, post(t, srv, tagDelPath, map[string]any{"tag_id": []any{lone}}), CodeOK)
		if _, ok := groupsOf(post(t, srv, tagListPath, nil))["单独"]; ok {
			t.Fatal("a group without tags is still listed")
		}
		wantCode(t, post(t, srv, tagDelPath, map[string]any{"group_id": []string{groupID}}), CodeOK)
		if _, ok := groupsOf(post(t, srv, tagListPath, nil))["会员等级"]; ok {
			t.Fatal("deleted group still listed")
		}
	})
}

func TestCorpTagsOfTheAdminAreReadOnly(t *testing.T) {
	srv, _ := start(t, Options{})
	MustSeed(t, srv.Sandbox, 1, SeedOptions{Customers: 5})
	g := srv.TagGroups()[0]
	wantCode(t, post(t, srv, tagEditPath, map[string]any{"id": g.Tags[0].ID, "name": "改名"}), CodeNoAppPermission)
	wantCode(t, post(t, srv, tagEditPath, map[string]any{"id": g.ID, "name": "改名"}), CodeNoAppPermission)
	wantCode(t, post(t, srv, tagDelPath, map[string]any{"tag_id": []string{g.Tags[0].ID}}), CodeNoAppPermission)
	wantCode(t, post(t, srv, tagDelPath, map[string]any{"group_id": []string{g.ID}}), CodeNoAppPermission)
	// Adding to the admin's group is allowed, and that tag is the app's.
	r := post(t, srv, tagAddPath, map[string]any{"group_id": g.ID, "tag": []tagIn{{Name: "新标签"}}})
	wantCode(t, r, CodeOK)
	id := r["tag_group"].(map[string]any)["tag"].([]any)[0].(map[string]any)["id"]
	wantCode(t, post(t, srv, tagEditPath, map[string]any{"id": id, "name": "新标签2"}), CodeOK)
}

func TestCorpTagLimit(t *testing.T) {
	srv, _ := start(t, Options{})
	for g := range 30 {
		var names []string
		for i := range 100 {
			names = append(names, fmt.Sprintf("t%d", i))
		}
		wantCode(t, addTags(t, srv, fmt.Sprintf("组%d", g), names...), CodeOK)
	}
	if n := srv.Summary().Tags; n != 3000 {
		t.Fatalf("%d tags, want 3000", n)
	}
	wantCode(t, addTags(t, srv, "再来", "一个"), CodeTagLimit)
	wantCode(t, addTags(t, srv, "组0", "t100"), CodeTagLimit)
	if n := srv.Summary().Tags; n != 3000 {
		t.Fatalf("a refused add created tags: %d", n)
	}
	// Deleted tags do not count.
	id := srv.TagGroups()[0].Tags[0].ID
	wantCode(t, post(t, srv, tagDelPath, map[string]any{"tag_id": []string{id}}), CodeOK)
	wantCode(t, addTags(t, srv, "再来", "一个"), CodeOK)
	wantCode(t, addTags(t, srv, "再来", "两个"), CodeTagLimit)
}

func TestMarkTag(t *testing.T) {
	srv, _ := start(t, Options{})
	ctx := context.Background()
	MustSeed(t, srv.Sandbox, 3, SeedOptions{Customers: 20})
	d, err := srv.CustomerAddsMember(ctx, AddContact{UserID: "wangfang"})
	if err != nil {
		t.Fatal(err)
	}
	ext := d.Event.ExternalUserID
	gs := srv.TagGroups()
	a, b, c := gs[0].Tags[0].ID, gs[1].Tags[0].ID, gs[1].Tags[1].ID

	wantCode(t, post(t, srv, markTagPath, map[string]any{"userid": "wangfang", "external_userid": ext, "add_tag": []string{a, b, c}}), CodeOK)
	wantCode(t, post(t, srv, markTagPath, map[string]any{"userid": "wangfang", "external_userid": ext, "add_tag": []string{a}, "remove_tag": []string{b}}), CodeOK)
	rel, _ := srv.Relation("wangfang", ext)
	if strings.Join(rel.TagIDs, ",") != a+","+c {
		t.Fatalf("tags = %v, want [a c]", rel.TagIDs)
	}

	// The API shows the change.
	r := post(t, srv, batchPath, map[string]any{"userid_list": []string{"wangfang"}, "limit": 100})
	found := false
	for _, it := range r.list("external_contact_list") {
		m := it.(map[string]any)
		if m["external_contact"].(map[string]any)["external_userid"] == ext {
			found = fmt.Sprint(m["follow_info"].(map[string]any)["tag_id"]) == fmt.Sprint([]any{a, c})
		}
	}
	if !found {
		t.Fatal("batch/get_by_user does not show the marked tags")
	}

	wantCode(t, post(t, srv, markTagPath, map[string]any{"userid": "wangfang", "external_userid": ext}), CodeInvalidParameter)
	wantCode(t, post(t, srv, markTagPath, map[string]any{"userid": "wangfang", "external_userid": ext, "add_tag": []string{"etnope"}}), CodeInvalidTagID)
	wantCode(t, post(t, srv, markTagPath, map[string]any{"userid": "lina", "external_userid": ext, "add_tag": []string{a}}), CodeNoRelation)
	wantCode(t, post(t, srv, markTagPath, map[string]any{"userid": "wangfang", "external_userid": "wmnope", "add_tag": []string{a}}), CodeInvalidExternalUser)

	// A tag deleted by the admin leaves every customer.
	if _, err := srv.AdminDeletesTag(ctx, c); err != nil {
		t.Fatal(err)
	}
	if rel, _ := srv.Relation("wangfang", ext); strings.Join(rel.TagIDs, ",") != a {
		t.Fatalf("after deleting c, tags = %v", rel.TagIDs)
	}
}

func TestAPIWritesSendNoCallbacks(t *testing.T) {
	srv, _ := start(t, Options{})
	ctx := context.Background()
	MustSeed(t, srv.Sandbox, 1, SeedOptions{Customers: 10})
	rc := startReceiver(t, srv)
	d, err := srv.CustomerAddsMember(ctx, AddContact{UserID: "zhangwei"})
	if err != nil || !d.Delivered {
		t.Fatalf("driver add: %+v, %v", d, err)
	}
	ext := d.Event.ExternalUserID
	tagID := srv.TagGroups()[0].Tags[0].ID

	wantCode(t, post(t, srv, "/cgi-bin/externalcontact/remark", map[string]any{"userid": "zhangwei", "external_userid": ext, "remark": "r"}), CodeOK)
	wantCode(t, post(t, srv, markTagPath, map[string]any{"userid": "zhangwei", "external_userid": ext, "add_tag": []string{tagID}}), CodeOK)
	r := addTags(t, srv, "API组", "API标签")
	wantCode(t, r, CodeOK)
	id := r["tag_group"].(map[string]any)["tag"].([]any)[0].(map[string]any)["id"]
	wantCode(t, post(t, srv, tagEditPath, map[string]any{"id": id, "name": "改"}), CodeOK)
	wantCode(t, post(t, srv, tagDelPath, map[string]any{"tag_id": []any{id}}), CodeOK)

	if n := len(rc.received()); n != 1 {
		t.Fatalf("%d callbacks, want only the driver's one", n)
	}
	if n := len(srv.Deliveries()); n != 1 {
		t.Fatalf("%d deliveries logged, want 1", n)
	}
}
