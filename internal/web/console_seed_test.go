package web_test

// Helpers for the console tests of the WeCom pages: a second handle on an
// instance's database to seed customers, members, tags and events as a
// sync or a callback would, and clients signed in with a given role.

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/app/apptest"
	"github.com/kith-scrm/kith/internal/auth"
	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/store"
)

// mustStore opens a second handle on the instance's database.
func mustStore(t *testing.T, in *apptest.Instance) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Options{DataDir: in.Config.DataDir, URL: in.Config.DatabaseURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// seedTime is when the seeded relations were added.
var seedTime = time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC)

// seedDirectory writes n customers, wm001 … wmNNN named 客户001 …, in order
// of id (so wmNNN is the newest). Member wang follows every customer, li
// also follows every tenth (a shared customer); every third has tag VIP on
// wang's relation; every customer is a WeChat user, the even ones female.
// Customer wm002 also has a relation with zhao that has ended.
func seedDirectory(t *testing.T, db *store.DB, n int) {
	t.Helper()
	ctx := context.Background()
	now := seedTime
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		for _, m := range []customer.Member{
			{UserID: "wang", Name: "王小明", Status: 1, ContactEnabled: true},
			{UserID: "li", Name: "李雷", Status: 1, ContactEnabled: true},
			{UserID: "zhao", Name: "赵敏", Status: 1, ContactEnabled: true},
		} {
			if err := customer.ApplyMember(ctx, tx, m, now); err != nil {
				return err
			}
		}
		groups := []customer.TagGroup{
			{GroupID: "grp-level", Name: "客户等级", Order: 2, CreatedAt: now, Tags: []customer.Tag{
				{TagID: "tag-vip", Name: "VIP", Order: 2, CreatedAt: now}, {TagID: "tag-normal", Name: "普通", Order: 1, CreatedAt: now},
			}},
			{GroupID: "grp-source", Name: "来源", Order: 1, CreatedAt: now, Tags: []customer.Tag{
				{TagID: "tag-shop", Name: "门店", CreatedAt: now},
			}},
		}
		if err := customer.ReplaceTags(ctx, tx, groups, now); err != nil {
			return err
		}
		for i := 1; i <= n; i++ {
			c := customer.Customer{ExternalUserID: fmt.Sprintf("wm%03d", i), Name: fmt.Sprintf("客户%03d", i), Type: 1, Gender: 1 + i%2}
			id, err := customer.ApplyCustomer(ctx, tx, c, now)
			if err != nil {
				return err
			}
			f := customer.Follow{MemberUserID: "wang", Remark: fmt.Sprintf("备注%d", i), AddWay: 1, State: "shop-qr", AddedAt: now}
			if i%3 == 0 {
				f.TagIDs = []string{"tag-vip"}
			}
			if err := customer.ApplyFollow(ctx, tx, id, f, now); err != nil {
				return err
			}
			if i%10 == 0 {
				if err := customer.ApplyFollow(ctx, tx, id, customer.Follow{MemberUserID: "li", AddWay: 201, AddedAt: now, TagIDs: []string{"tag-shop"}}, now); err != nil {
					return err
				}
			}
			if i == 2 {
				if err := customer.ApplyFollow(ctx, tx, id, customer.Follow{MemberUserID: "zhao", AddWay: 3, AddedAt: now}, now); err != nil {
					return err
				}
				if err := customer.EndFollow(ctx, tx, c.ExternalUserID, "zhao", customer.FollowDeletedByMember, now.Add(time.Hour)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
}

// signedIn returns a client signed in as a new user with the role.
func signedIn(t *testing.T, in *apptest.Instance, role auth.Role) *client {
	t.Helper()
	name := "u-" + string(role)
	if _, err := in.Auth(t).CreateUser(context.Background(), auth.NewUser{Username: name, Role: role, Password: "a long password 1"}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, in)
	c.login(name, "a long password 1")
	return c
}

// en asks for the English console.
var en = map[string]string{"Accept-Language": "en"}

// get fetches a console page in English and checks its status.
func (c *client) get(path string, want int) string {
	c.t.Helper()
	resp, body := c.do("GET", path, nil, en)
	if resp.StatusCode != want {
		c.t.Fatalf("GET %s: %d, want %d\n%s", path, resp.StatusCode, want, body)
	}
	return body
}

var rowRe = regexp.MustCompile(`<tr id="customer-(\d+)">`)

// customerRows returns the ids of the customer rows of a list page.
func customerRows(body string) []string {
	var out []string
	for _, m := range rowRe.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// nextLink returns the list page's "Next page" link, or "".
func nextLink(body string) string {
	m := regexp.MustCompile(`<a href="([^"]*)" id="customer-next"`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return strings.ReplaceAll(m[1], "&amp;", "&")
}

// mustContain fails the test unless body has every string.
func mustContain(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

// mustNotContain fails the test if body has any of the strings.
func mustNotContain(t *testing.T, what, body string, nots ...string) {
	t.Helper()
	for _, n := range nots {
		if strings.Contains(body, n) {
			t.Errorf("%s has %q", what, n)
		}
	}
}

// insertEvent stores an inbound event as the callback handler and the
// applier would have left it.
func insertEvent(t *testing.T, db *store.DB, kind, status, errText string, attempts int, at time.Time) int64 {
	t.Helper()
	var id int64
	var applied any
	if status == "applied" {
		applied = at.Add(time.Second)
	}
	body := fmt.Sprintf("<xml><ToUserName><![CDATA[wwcorp]]></ToUserName><Event><![CDATA[%s]]></Event><ExternalUserID><![CDATA[wm%d]]></ExternalUserID></xml>", kind, at.Unix())
	err := db.W.QueryRowContext(context.Background(), `INSERT INTO inbound_events (source, dedupe_key, kind, body, received_at, status, attempts, error, applied_at)
		VALUES ('wecom', $1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`, fmt.Sprint(at.UnixNano()), kind, body, at, status, attempts, errText, applied).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
