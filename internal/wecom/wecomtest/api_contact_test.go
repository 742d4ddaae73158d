package wecomtest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
)

const batchPath = "/cgi-bin/externalcontact/batch/get_by_user"

func TestUserGet(t *testing.T) {
	srv, _ := start(t, Options{})
	MustSeed(t, srv.Sandbox, 1, SeedOptions{Customers: 10})

	r := get(t, srv, "/cgi-bin/user/get", "userid", "zhangwei")
	wantCode(t, r, CodeOK)
	if r.str("userid") != "zhangwei" || r.str("name") != "张伟" || r.num("status") != MemberActive || r.num("main_department") != 2 {
		t.Fatalf("user/get = %v", r)
	}
	if _, ok := r["mobile"]; ok {
		t.Fatal("user/get returned mobile, which apps created after 2022-06-20 do not get")
	}
	wantCode(t, get(t, srv, "/cgi-bin/user/get", "userid", "nobody"), CodeUserNotFound)
	wantCode(t, get(t, srv, "/cgi-bin/user/get"), CodeUserIDMissing)
}

func TestFollowUserList(t *testing.T) {
	srv, _ := start(t, Options{})
	MustSeed(t, srv.Sandbox, 1, SeedOptions{Customers: 10, Members: 8})
	r := get(t, srv, "/cgi-bin/externalcontact/get_follow_user_list")
	wantCode(t, r, CodeOK)
	if got := r.list("follow_user"); len(got) != 8 || got[0] != "zhangwei" {
		t.Fatalf("follow_user = %v, want the 8 members", got)
	}
}

func TestContactList(t *testing.T) {
	srv, _ := start(t, Options{})
	MustSeed(t, srv.Sandbox, 1, SeedOptions{Customers: 50})
	if err := srv.AddMember(Member{UserID: "newbie", Name: "新人"}); err != nil {
		t.Fatal(err)
	}
	r := get(t, srv, "/cgi-bin/externalcontact/list", "userid", "zhangwei")
	wantCode(t, r, CodeOK)
	if len(r.list("external_userid")) == 0 {
		t.Fatal("zhangwei has no customers")
	}
	wantCode(t, get(t, srv, "/cgi-bin/externalcontact/list", "userid", "newbie"), CodeNoRelation)
	wantCode(t, get(t, srv, "/cgi-bin/externalcontact/list", "userid", "nobody"), CodeUserNotFound)
}

// batchAll pages batch/get_by_user to the end and returns "userid/external_userid"
// keys in order, failing on any error.
func batchAll(t *testing.T, srv *Server, users []string, limit int, between func(page int)) []string {
	t.Helper()
	var keys []string
	cursor := ""
	for page := 0; ; page++ {
		r := post(t, srv, batchPath, map[string]any{"userid_list": users, "cursor": cursor, "limit": limit})
		wantCode(t, r, CodeOK)
		items := r.list("external_contact_list")
		if len(items) > limit {
			t.Fatalf("page %d has %d items, limit %d", page, len(items), limit)
		}
		for _, it := range items {
			m := it.(map[string]any)
			ec := m["external_contact"].(map[string]any)
			fi := m["follow_info"].(map[string]any)
			keys = append(keys, fi["userid"].(string)+"/"+ec["external_userid"].(string))
		}
		cursor = r.str("next_cursor")
		if cursor == "" {
			return keys
		}
		if len(items) != limit {
			t.Fatalf("page %d has %d items and a next_cursor; only the last page may be short", page, len(items))
		}
		if between != nil {
			between(page)
		}
	}
}

func memberIDs(srv *Server) []string {
	var ids []string
	for _, m := range srv.Members() {
		ids = append(ids, m.UserID)
	}
	return ids
}

// wantRelations are the keys of every full relation of the users.
func wantRelations(srv *Server, users []string) []string {
	var keys []string
	for _, id := range srv.CustomerIDs() {
		for _, r := range srv.Relations(id) {
			if !r.Half && slices.Contains(users, r.UserID) {
				keys = append(keys, r.UserID+"/"+r.ExternalUserID)
			}
		}
	}
	return keys
}

func sameSet(t *testing.T, got, want []string) {
	t.Helper()
	seen := map[string]int{}
	for _, k := range got {
		seen[k]++
		if seen[k] > 1 {
			t.Fatalf("%s returned twice", k)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d relations, want %d", len(got), len(want))
	}
	for _, k := range want {
		if seen[k] != 1 {
			t.Fatalf("%s missing", k)
		}
	}
}

func TestBatchGetByUserPaging(t *testing.T) {
	srv, _ := start(t, Options{})
	MustSeed(t, srv.Sandbox, 7, SeedOptions{Customers: 600})
	users := memberIDs(srv)

	for _, limit := range []int{1, 37, 50, 100} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			sameSet(t, batchAll(t, srv, users, limit, nil), wantRelations(srv, users))
		})
	}

	t.Run("members in list order, customers in adding order", func(t *testing.T) {
		keys := batchAll(t, srv, []string{"lina", "zhangwei"}, 100, nil)
		if !strings.HasPrefix(keys[0], "lina/") || !strings.HasPrefix(keys[len(keys)-1], "zhangwei/") {
			t.Fatalf("first %s, last %s", keys[0], keys[len(keys)-1])
		}
	})

	t.Run("limit default 50, capped at 100", func(t *testing.T) {
		r := post(t, srv, batchPath, map[string]any{"userid_list": users})
		if n := len(r.list("external_contact_list")); n != 50 {
			t.Fatalf("default page has %d items, want 50", n)
		}
		r = post(t, srv, batchPath, map[string]any{"userid_list": users, "limit": 1000})
		if n := len(r.list("external_contact_list")); n != 100 {
			t.Fatalf("limit 1000 gave %d items, want the maximum 100", n)
		}
	})

	t.Run("changes between pages shift nothing", func(t *testing.T) {
		ctx := context.Background()
		before := wantRelations(srv, users)
		var added, deleted []string
		keys := batchAll(t, srv, users, 40, func(page int) {
			// Delete a relation from the first member (already read) and
			// add one to the last member (not read yet) on every page.
			rels := srv.Relations(srv.CustomerIDs()[page])
			if _, err := srv.MemberDeletesCustomer(ctx, rels[0].UserID, rels[0].ExternalUserID); err != nil {
				t.Fatal(err)
			}
			deleted = append(deleted, rels[0].UserID+"/"+rels[0].ExternalUserID)
			d, err := srv.CustomerAddsMember(ctx, AddContact{UserID: users[len(users)-1]})
			if err != nil {
				t.Fatal(err)
			}
			added = append(added, users[len(users)-1]+"/"+d.Event.ExternalUserID)
		})
		// Every relation that existed throughout appears exactly once; the
		// added ones (after every cursor) appear too.
		var stable []string
		for _, k := range before {
			if !slices.Contains(deleted, k) {
				stable = append(stable, k)
			}
		}
		for _, k := range stable {
			if n := countOf(keys, k); n != 1 {
				t.Fatalf("%s appeared %d times", k, n)
			}
		}
		for _, k := range added {
			if countOf(keys, k) != 1 {
				t.Fatalf("added relation %s not returned once", k)
			}
		}
	})
}

func countOf(list []string, k string) int {
	n := 0
	for _, x := range list {
		if x == k {
			n++
		}
	}
	return n
}

func TestBatchGetByUserErrors(t *testing.T) {
	srv, _ := start(t, Options{})
	MustSeed(t, srv.Sandbox, 1, SeedOptions{Customers: 20})

	var many []string
	for i := range 101 {
		many = append(many, fmt.Sprintf("user%d", i))
	}
	wantCode(t, post(t, srv, batchPath, map[string]any{"userid_list": many}), CodeInvalidParameter)
	wantCode(t, post(t, srv, batchPath, map[string]any{"userid_list": many[:100]}), CodeOK)
	wantCode(t, post(t, srv, batchPath, map[string]any{}), CodeInvalidParameter)
	wantCode(t, post(t, srv, batchPath, map[string]any{"userid_list": []string{strings.Repeat("x", 65)}}), CodeInvalidParameter)
	wantCode(t, post(t, srv, batchPath, map[string]any{"userid_list": []string{"zhangwei"}, "cursor": "garbage!"}), CodeInvalidCursor)
	// A cursor from another member list is refused too.
	wantCode(t, post(t, srv, batchPath, map[string]any{"userid_list": []string{"lina"}, "cursor": encodeCursor("b", "zhangwei", 1)}), CodeInvalidCursor)
	// Unknown members contribute nothing.
	r := post(t, srv, batchPath, map[string]any{"userid_list": []string{"nobody"}})
	wantCode(t, r, CodeOK)
	if len(r.list("external_contact_list")) != 0 || r.str("next_cursor") != "" {
		t.Fatalf("unknown member gave %v", r)
	}
}

func TestBatchGetByUserFields(t *testing.T) {
	srv, _ := start(t, Options{})
	ctx := context.Background()
	if err := srv.AddMember(Member{UserID: "m1", Name: "成员一"}); err != nil {
		t.Fatal(err)
	}
	d, err := srv.CustomerAddsMember(ctx, AddContact{UserID: "m1", Name: "李四", Gender: 1, State: "ch_douyin"})
	if err != nil {
		t.Fatal(err)
	}
	ext := d.Event.ExternalUserID
	r := post(t, srv, batchPath, map[string]any{"userid_list": []string{"m1"}})
	wantCode(t, r, CodeOK)
	item := r.list("external_contact_list")[0].(map[string]any)
	ec := item["external_contact"].(map[string]any)
	fi := item["follow_info"].(map[string]any)
	if ec["external_userid"] != ext || ec["name"] != "李四" || fmt.Sprint(ec["type"]) != "1" || fmt.Sprint(ec["gender"]) != "1" {
		t.Fatalf("external_contact = %v", ec)
	}
	if !strings.HasPrefix(ext, "wm") || ec["avatar"] == "" {
		t.Fatalf("external_userid %q or avatar %v not WeCom-shaped", ext, ec["avatar"])
	}
	if fi["userid"] != "m1" || fi["state"] != "ch_douyin" || fmt.Sprint(fi["add_way"]) != "1" || fi["oper_userid"] != ext {
		t.Fatalf("follow_info = %v", fi)
	}
	for _, k := range []string{"remark", "description", "createtime", "tag_id", "remark_mobiles"} {
		if _, ok := fi[k]; !ok {
			t.Fatalf("follow_info has no %s: %v", k, fi)
		}
	}
}

func TestContactGet(t *testing.T) {
	srv, _ := start(t, Options{})
	ctx := context.Background()
	MustSeed(t, srv.Sandbox, 1, SeedOptions{Customers: 30})
	groups := srv.TagGroups()
	tag := groups[0].Tags[0]
	d, err := srv.CustomerAddsMember(ctx, AddContact{UserID: "lina", State: "ch_store"})
	if err != nil {
		t.Fatal(err)
	}
	ext := d.Event.ExternalUserID
	if _, err := srv.MemberEditsContact(ctx, EditContact{UserID: "lina", ExternalUserID: ext, Remark: strp("老王"), AddTags: []string{tag.ID}}); err != nil {
		t.Fatal(err)
	}

	r := get(t, srv, "/cgi-bin/externalcontact/get", "external_userid", ext)
	wantCode(t, r, CodeOK)
	ec := r["external_contact"].(map[string]any)
	if ec["external_userid"] != ext {
		t.Fatalf("external_contact = %v", ec)
	}
	fu := r.list("follow_user")
	if len(fu) != 1 {
		t.Fatalf("follow_user = %v", fu)
	}
	f := fu[0].(map[string]any)
	tags := f["tags"].([]any)
	if f["userid"] != "lina" || f["remark"] != "老王" || f["state"] != "ch_store" || len(tags) != 1 {
		t.Fatalf("follow_user[0] = %v", f)
	}
	tg := tags[0].(map[string]any)
	if tg["group_name"] != groups[0].Name || tg["tag_name"] != tag.Name || fmt.Sprint(tg["type"]) != "1" || tg["tag_id"] != tag.ID {
		t.Fatalf("tags[0] = %v", tg)
	}

	wantCode(t, get(t, srv, "/cgi-bin/externalcontact/get"), CodeExternalUserMissing)
	wantCode(t, get(t, srv, "/cgi-bin/externalcontact/get", "external_userid", "wmnobody"), CodeInvalidExternalUser)

	t.Run("one-way relation stays visible", func(t *testing.T) {
		if _, err := srv.CustomerDeletesMember(ctx, "lina", ext); err != nil {
			t.Fatal(err)
		}
		wantCode(t, get(t, srv, "/cgi-bin/externalcontact/get", "external_userid", ext), CodeOK)
	})
	t.Run("member deletion removes it", func(t *testing.T) {
		if _, err := srv.MemberDeletesCustomer(ctx, "lina", ext); err != nil {
			t.Fatal(err)
		}
		wantCode(t, get(t, srv, "/cgi-bin/externalcontact/get", "external_userid", ext), CodeNoRelation)
	})
}

func TestContactGetPagesFollowUsers(t *testing.T) {
	srv, _ := start(t, Options{})
	ctx := context.Background()
	var ext string
	for i := range 1203 {
		id := fmt.Sprintf("m%04d", i)
		if err := srv.AddMember(Member{UserID: id, Name: id}); err != nil {
			t.Fatal(err)
		}
		d, err := srv.CustomerAddsMember(ctx, AddContact{UserID: id, ExternalUserID: ext})
		if err != nil {
			t.Fatal(err)
		}
		ext = d.Event.ExternalUserID
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		r := get(t, srv, "/cgi-bin/externalcontact/get", "external_userid", ext, "cursor", cursor)
		wantCode(t, r, CodeOK)
		fu := r.list("follow_user")
		if len(fu) > 500 {
			t.Fatalf("page of %d follow users, want at most 500", len(fu))
		}
		for _, f := range fu {
			got = append(got, f.(map[string]any)["userid"].(string))
		}
		if cursor = r.str("next_cursor"); cursor == "" {
			if pages != 2 {
				t.Fatalf("%d pages, want 3", pages+1)
			}
			break
		}
	}
	var want []string
	for i := range 1203 {
		want = append(want, fmt.Sprintf("m%04d", i))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %d follow users, want the 1203 in order", len(got))
	}
	wantCode(t, get(t, srv, "/cgi-bin/externalcontact/get", "external_userid", ext, "cursor", "bad"), CodeInvalidCursor)
}

func TestRemark(t *testing.T) {
	srv, _ := start(t, Options{})
	ctx := context.Background()
	if err := srv.AddMember(Member{UserID: "m1", Name: "成员一"}); err != nil {
		t.Fatal(err)
	}
	d, err := srv.CustomerAddsMember(ctx, AddContact{UserID: "m1"})
	if err != nil {
		t.Fatal(err)
	}
	ext := d.Event.ExternalUserID
	path := "/cgi-bin/externalcontact/remark"

	twenty := strings.Repeat("客", 20)
	r := post(t, srv, path, map[string]any{"userid": "m1", "external_userid": ext, "remark": twenty,
		"description": "喜欢直播", "remark_company": "腾讯", "remark_mobiles": []string{"13800000001", "13800000002"}})
	wantCode(t, r, CodeOK)
	rel, _ := srv.Relation("m1", ext)
	if rel.Remark != twenty || rel.Description != "喜欢直播" || rel.RemarkCorpName != "腾讯" || len(rel.RemarkMobiles) != 2 {
		t.Fatalf("relation after remark = %+v", rel)
	}

	for _, tc := range []struct {
		name string
		body map[string]any
		code int
	}{
		{"remark 21 characters", map[string]any{"userid": "m1", "external_userid": ext, "remark": twenty + "x"}, CodeInvalidParameter},
		{"description 151 characters", map[string]any{"userid": "m1", "external_userid": ext, "description": strings.Repeat("a", 151)}, CodeInvalidParameter},
		{"remark_company 21 characters", map[string]any{"userid": "m1", "external_userid": ext, "remark_company": strings.Repeat("a", 21)}, CodeInvalidParameter},
		{"everything empty", map[string]any{"userid": "m1", "external_userid": ext}, CodeInvalidParameter},
		{"no userid", map[string]any{"external_userid": ext, "remark": "x"}, CodeUserIDMissing},
		{"unknown userid", map[string]any{"userid": "nobody", "external_userid": ext, "remark": "x"}, CodeUserNotFound},
		{"no external_userid", map[string]any{"userid": "m1", "remark": "x"}, CodeExternalUserMissing},
		{"unknown external_userid", map[string]any{"userid": "m1", "external_userid": "wmnobody", "remark": "x"}, CodeInvalidExternalUser},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, post(t, srv, path, tc.body), tc.code)
		})
	}
	after, _ := srv.Relation("m1", ext)
	if after.Remark != twenty {
		t.Fatalf("a refused remark changed the relation: %+v", after)
	}

	t.Run("a single empty mobile clears them", func(t *testing.T) {
		wantCode(t, post(t, srv, path, map[string]any{"userid": "m1", "external_userid": ext, "remark_mobiles": []string{""}}), CodeOK)
		if rel, _ := srv.Relation("m1", ext); len(rel.RemarkMobiles) != 0 {
			t.Fatalf("remark_mobiles = %v", rel.RemarkMobiles)
		}
	})
	t.Run("half-added customer is not a relation yet", func(t *testing.T) {
		d, err := srv.CustomerAddsMember(ctx, AddContact{UserID: "m1", Half: true})
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, post(t, srv, path, map[string]any{"userid": "m1", "external_userid": d.Event.ExternalUserID, "remark": "x"}), CodeNoRelation)
	})
}
