package customer_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

var now = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

func inTx(t *testing.T, db *store.DB, fn func(tx *sql.Tx) error) {
	t.Helper()
	if err := db.InTx(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func seed(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	inTx(t, db, func(tx *sql.Tx) error {
		for _, m := range []customer.Member{{UserID: "zhangsan", Name: "张三", Departments: []int64{1, 2}, Status: 1, ContactEnabled: true}, {UserID: "lisi", Name: "李四", Status: 1}} {
			if err := customer.ApplyMember(ctx, tx, m, now); err != nil {
				return err
			}
		}
		if err := customer.ReplaceTags(ctx, tx, []customer.TagGroup{
			{GroupID: "etG1", Name: "客户等级", Order: 2, CreatedAt: now, Tags: []customer.Tag{{TagID: "etVIP", Name: "VIP", Order: 1, CreatedAt: now}, {TagID: "etNEW", Name: "新客", CreatedAt: now}}},
			{GroupID: "etG2", Name: "地区", Order: 1, CreatedAt: now, Tags: []customer.Tag{{TagID: "etSH", Name: "上海", CreatedAt: now}}},
		}, now); err != nil {
			return err
		}
		for i, name := range []string{"王小明", "陈静", "刘洋"} {
			id, err := customer.ApplyCustomer(ctx, tx, customer.Customer{ExternalUserID: fmt.Sprintf("wm%03d", i), Name: name, Type: 1, Gender: 1 + i%2}, now)
			if err != nil {
				return err
			}
			if err := customer.ApplyFollow(ctx, tx, id, customer.Follow{MemberUserID: "zhangsan", Remark: "老客户", AddWay: 1, State: "ch_douyin", AddedAt: now, TagIDs: []string{"etVIP", "etSH", "etVIP"}}, now); err != nil {
				return err
			}
		}
		id, _ := customer.ApplyCustomer(ctx, tx, customer.Customer{ExternalUserID: "wm000", Name: "王小明", Type: 1}, now)
		return customer.ApplyFollow(ctx, tx, id, customer.Follow{MemberUserID: "lisi", AddedAt: now, TagIDs: []string{"etNEW"}}, now)
	})
}

func TestApplyAndRead(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		seed(t, db)
		seed(t, db) // applying twice changes nothing
		dir := customer.NewDirectory(db)
		if n, _ := dir.Count(ctx); n != 3 {
			t.Fatalf("%d customers, want 3", n)
		}
		d, err := dir.Get(ctx, "wm000")
		if err != nil {
			t.Fatal(err)
		}
		if d.Name != "王小明" || len(d.Follows) != 2 {
			t.Fatalf("detail %+v", d)
		}
		var zs customer.Follow
		for _, f := range d.Follows {
			if f.MemberUserID == "zhangsan" {
				zs = f
			}
		}
		if zs.Remark != "老客户" || zs.State != "ch_douyin" || !slices.Equal(zs.TagIDs, []string{"etSH", "etVIP"}) || zs.Status != customer.FollowActive {
			t.Fatalf("relation %+v", zs)
		}
		if _, err := dir.Get(ctx, "nobody"); kith.ErrorCode(err) != kith.ENOTFOUND {
			t.Fatalf("unknown customer: %v", err)
		}
		groups, err := dir.TagGroups(ctx)
		if err != nil || len(groups) != 2 || groups[0].GroupID != "etG1" || len(groups[0].Tags) != 2 || groups[0].Tags[0].TagID != "etVIP" {
			t.Fatalf("tag groups %+v %v", groups, err)
		}
		members, err := dir.Members(ctx)
		if err != nil || len(members) != 2 || !slices.Equal(members[1].Departments, []int64{1, 2}) && !slices.Equal(members[0].Departments, []int64{1, 2}) {
			t.Fatalf("members %+v %v", members, err)
		}
	})
}

func TestListFiltersAndPages(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		seed(t, db)
		dir := customer.NewDirectory(db)
		ids := func(p *customer.Page) []string {
			var out []string
			for _, r := range p.Rows {
				out = append(out, r.ExternalUserID)
			}
			return out
		}
		cases := []struct {
			f    customer.Filter
			want []string
		}{
			{customer.Filter{}, []string{"wm002", "wm001", "wm000"}},
			{customer.Filter{Query: "陈"}, []string{"wm001"}},
			{customer.Filter{Query: "wm002"}, []string{"wm002"}},
			{customer.Filter{Query: "%"}, nil},
			{customer.Filter{Member: "lisi"}, []string{"wm000"}},
			{customer.Filter{TagID: "etNEW"}, []string{"wm000"}},
			{customer.Filter{TagID: "etVIP", Member: "zhangsan", Query: "刘"}, []string{"wm002"}},
		}
		for _, c := range cases {
			p, err := dir.List(ctx, c.f)
			if err != nil || !slices.Equal(ids(p), c.want) {
				t.Errorf("List(%+v) = %v, %v; want %v", c.f, ids(p), err, c.want)
			}
		}
		p, _ := dir.List(ctx, customer.Filter{})
		if p.Rows[2].Followers != 2 || p.Rows[0].Followers != 1 {
			t.Fatalf("followers: %+v", p.Rows)
		}
		// Keyset paging visits every customer once.
		var seen []string
		f := customer.Filter{Limit: 2}
		for {
			p, err := dir.List(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			seen = append(seen, ids(p)...)
			if p.Next == 0 {
				break
			}
			f.Before = p.Next
		}
		if !slices.Equal(seen, []string{"wm002", "wm001", "wm000"}) {
			t.Fatalf("paged %v", seen)
		}
		for _, bad := range []customer.Filter{{Limit: 201}, {Limit: -1}, {Query: string(make([]rune, 101))}} {
			if _, err := dir.List(ctx, bad); kith.ErrorCode(err) != kith.EINVALID {
				t.Errorf("List(%+v) = %v, want EINVALID", bad, err)
			}
		}
	})
}

func TestRelationsEndAndTagsChange(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		seed(t, db)
		dir := customer.NewDirectory(db)
		inTx(t, db, func(tx *sql.Tx) error {
			if err := customer.MarkTags(ctx, tx, "wm001", "zhangsan", []string{"etNEW", "etVIP"}, []string{"etSH"}); err != nil {
				return err
			}
			if err := customer.EndFollow(ctx, tx, "wm000", "lisi", customer.FollowDeletedByCustomer, now.Add(time.Hour)); err != nil {
				return err
			}
			return customer.EndFollow(ctx, tx, "wm-unknown", "lisi", customer.FollowDeletedByMember, now)
		})
		d, _ := dir.Get(ctx, "wm001")
		if !slices.Equal(d.Follows[0].TagIDs, []string{"etNEW", "etVIP"}) {
			t.Fatalf("tags after mark: %v", d.Follows[0].TagIDs)
		}
		d, _ = dir.Get(ctx, "wm000")
		for _, f := range d.Follows {
			if f.MemberUserID == "lisi" && (f.Status != customer.FollowDeletedByCustomer || f.EndedAt == nil) {
				t.Fatalf("ended relation %+v", f)
			}
		}
		if p, _ := dir.List(ctx, customer.Filter{Member: "lisi"}); len(p.Rows) != 0 {
			t.Fatal("an ended relation still counts as following")
		}
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			return customer.MarkTags(ctx, tx, "wm001", "lisi", []string{"etNEW"}, nil)
		})
		if kith.ErrorCode(err) != kith.ENOTFOUND {
			t.Fatalf("mark on a missing relation: %v", err)
		}
		// A full tag sync without a group deletes it and takes its tags off.
		inTx(t, db, func(tx *sql.Tx) error {
			return customer.ReplaceTags(ctx, tx, []customer.TagGroup{{GroupID: "etG2", Name: "地区", CreatedAt: now, Tags: []customer.Tag{{TagID: "etSH", Name: "上海", CreatedAt: now}}}}, now)
		})
		groups, _ := dir.TagGroups(ctx)
		if len(groups) != 1 || groups[0].GroupID != "etG2" {
			t.Fatalf("groups after replace: %+v", groups)
		}
		if p, _ := dir.List(ctx, customer.Filter{TagID: "etVIP"}); len(p.Rows) != 0 {
			t.Fatal("a deleted tag is still on relations")
		}
		// WeCom still reports a relation the customer deleted (one-way): seeing
		// it again keeps it ended; only a new add (a later add time) revives it.
		inTx(t, db, func(tx *sql.Tx) error {
			id, _ := customer.ApplyCustomer(ctx, tx, customer.Customer{ExternalUserID: "wm000", Name: "王小明"}, now)
			return customer.ApplyFollow(ctx, tx, id, customer.Follow{MemberUserID: "lisi", AddedAt: now, Synced: true}, now.Add(2*time.Hour))
		})
		if p, _ := dir.List(ctx, customer.Filter{Member: "lisi"}); len(p.Rows) != 0 {
			t.Fatal("a one-way relation seen by a sync became active")
		}
		// A relation seen again becomes active again.
		inTx(t, db, func(tx *sql.Tx) error {
			id, _ := customer.ApplyCustomer(ctx, tx, customer.Customer{ExternalUserID: "wm000", Name: "王小明"}, now)
			return customer.ApplyFollow(ctx, tx, id, customer.Follow{MemberUserID: "lisi", AddedAt: now.Add(3 * time.Hour)}, now.Add(3*time.Hour))
		})
		if p, _ := dir.List(ctx, customer.Filter{Member: "lisi"}); len(p.Rows) != 1 {
			t.Fatal("a re-added relation is not active")
		}
	})
}

func TestGrams(t *testing.T) {
	if got := customer.Grams("王小明"); got != "王 王小 小 小明 明" {
		t.Fatalf("Grams(王小明) = %q", got)
	}
	if got := customer.Grams("Li Na-2"); got != "l li i n na a 2" {
		t.Fatalf("Grams(Li Na-2) = %q", got)
	}
}

func TestNameSearch(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		names := []string{"王小明", "王明", "小明王", "Alice Wang", "明小王", "张伟", "100%纯", `引"号`}
		inTx(t, db, func(tx *sql.Tx) error {
			for i, n := range names {
				if _, err := customer.ApplyCustomer(ctx, tx, customer.Customer{ExternalUserID: fmt.Sprintf("wmS%03d", i), Name: n}, now); err != nil {
					return err
				}
			}
			// A renamed customer is found by the new name only.
			_, err := customer.ApplyCustomer(ctx, tx, customer.Customer{ExternalUserID: "wmS005", Name: "张伟伟"}, now)
			return err
		})
		dir := customer.NewDirectory(db)
		cases := map[string][]string{
			"小明":    {"小明王", "王小明"},
			"王":     {"明小王", "小明王", "王明", "王小明"},
			"王小明":   {"王小明"},
			"明小":    {"明小王"},
			"alice": {"Alice Wang"},
			"LIC":   {"Alice Wang"},
			"伟伟":    {"张伟伟"},
			"100%":  {"100%纯"},
			`"`:     {`引"号`},
			`引"号`:   {`引"号`},
			"赵":     nil,
		}
		for q, want := range cases {
			p, err := dir.List(ctx, customer.Filter{Query: q})
			if err != nil {
				t.Fatalf("search %q: %v", q, err)
			}
			var got []string
			for _, r := range p.Rows {
				got = append(got, r.Name)
			}
			if !slices.Equal(got, want) {
				t.Errorf("search %q = %v, want %v", q, got, want)
			}
		}
	})
}
