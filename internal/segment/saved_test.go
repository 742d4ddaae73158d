package segment_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/segment"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

func mustUser(t *testing.T, db *store.DB, name string) int64 {
	t.Helper()
	var id int64
	err := db.W.QueryRowContext(context.Background(), `INSERT INTO users (username, role, password_hash, created_at, updated_at)
		VALUES ($1, 'operator', 'x', $2, $2) RETURNING id`, name, fxNow).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestSaved(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		loadFixture(t, db)
		owner := mustUser(t, db, "yunying")
		clock := kith.NewFixedClock(fxNow)
		s := segment.NewStore(db, clock)

		vip, err := s.Create(ctx, owner, segment.Input{Name: "  VIP 复购 ", Description: "高价值", Expression: `TAG:"VIP" AND (tag:“复购” OR spent_90d >= 500.00)`})
		if err != nil {
			t.Fatal(err)
		}
		if vip.ID == 0 || vip.Name != "VIP 复购" || vip.OwnerID != owner || vip.Description != "高价值" ||
			vip.Expression != "tag:VIP and (tag:复购 or spent_90d >= 500)" || !vip.CreatedAt.Equal(fxNow) || !vip.UpdatedAt.Equal(fxNow) {
			t.Fatalf("created %+v", vip)
		}
		got, err := s.Get(ctx, vip.ID)
		if err != nil || !sameSaved(got, vip) {
			t.Fatalf("Get = %+v, %v; want %+v", got, err, vip)
		}
		if got, err := s.GetByName(ctx, "VIP 复购"); err != nil || !sameSaved(got, vip) {
			t.Fatalf("GetByName = %+v, %v", got, err)
		}

		// The name is unique.
		_, err = s.Create(ctx, owner, segment.Input{Name: "VIP 复购", Expression: "tag:VIP"})
		if kith.ErrorCode(err) != kith.ECONFLICT {
			t.Errorf("a second VIP 复购: %v, want conflict", err)
		}
		// Bad input is refused with the column and a suggestion.
		for _, c := range []struct {
			in   segment.Input
			want string
		}{
			{segment.Input{Name: "x", Expression: ""}, "column 1: the expression is empty"},
			{segment.Input{Name: "x", Expression: "tag:VIP and member:zhangsna"}, "column 13: unknown member zhangsna; did you mean member:zhangsan?"},
			{segment.Input{Name: "x", Expression: "tag:vip"}, "column 1: unknown tag vip; did you mean tag:VIP?"},
			{segment.Input{Name: "x", Expression: "group:兴趣 or channel:双十一直播"}, "column 13: unknown channel 双十一直播; did you mean channel:双11直播?"},
			{segment.Input{Name: "x", Expression: "spent_90d >= \"abc\""}, "column 14: spent_90d wants an amount"},
			{segment.Input{Name: " ", Expression: "tag:VIP"}, "the name is empty"},
			{segment.Input{Name: strings.Repeat("名", 101), Expression: "tag:VIP"}, "longer than 100 characters"},
			{segment.Input{Name: "a\tb", Expression: "tag:VIP"}, "control character"},
			{segment.Input{Name: "x", Description: strings.Repeat("d", 2001), Expression: "tag:VIP"}, "longer than 2000"},
		} {
			_, err := s.Create(ctx, owner, c.in)
			if kith.ErrorCode(err) != kith.EINVALID || !strings.Contains(kith.ErrorMessage(err), c.want) {
				t.Errorf("%+v: %v, want invalid with %q", c.in.Expression, err, c.want)
			}
		}

		clock.Add(time.Hour)
		other, err := s.Create(ctx, owner, segment.Input{Name: "A 新客", Expression: "added >= 2026-01-01 and member:lisi and group:兴趣"})
		if err != nil {
			t.Fatal(err)
		}
		list, err := s.List(ctx)
		if err != nil || len(list) != 2 || !sameSaved(list[0], other) || !sameSaved(list[1], vip) {
			t.Fatalf("List = %+v, %v", list, err)
		}

		clock.Add(time.Hour)
		upd, err := s.Update(ctx, vip.ID, segment.Input{Name: "VIP", Description: "", Expression: "not (tag:VIP)"})
		if err != nil {
			t.Fatal(err)
		}
		if upd.Name != "VIP" || upd.Expression != "not tag:VIP" || upd.Description != "" || upd.OwnerID != owner ||
			!upd.CreatedAt.Equal(fxNow) || !upd.UpdatedAt.Equal(fxNow.Add(2*time.Hour)) {
			t.Errorf("updated %+v", upd)
		}
		if got, _ := s.Get(ctx, vip.ID); !sameSaved(got, upd) {
			t.Errorf("after Update, Get = %+v", got)
		}
		if _, err := s.Update(ctx, vip.ID, segment.Input{Name: "A 新客", Expression: "tag:VIP"}); kith.ErrorCode(err) != kith.ECONFLICT {
			t.Errorf("renaming onto another segment: %v", err)
		}
		if _, err := s.Update(ctx, vip.ID, segment.Input{Name: "VIP", Expression: "tag:nope"}); kith.ErrorCode(err) != kith.EINVALID {
			t.Errorf("updating to an unknown tag: %v", err)
		}
		if _, err := s.Update(ctx, 9999, segment.Input{Name: "VIP", Expression: "tag:VIP"}); kith.ErrorCode(err) != kith.ENOTFOUND {
			t.Errorf("updating a missing segment: %v", err)
		}

		if err := s.Delete(ctx, vip.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, vip.ID); kith.ErrorCode(err) != kith.ENOTFOUND {
			t.Errorf("deleting twice: %v", err)
		}
		if _, err := s.Get(ctx, vip.ID); kith.ErrorCode(err) != kith.ENOTFOUND {
			t.Errorf("Get after Delete: %v", err)
		}
		if _, err := s.GetByName(ctx, "VIP"); kith.ErrorCode(err) != kith.ENOTFOUND {
			t.Errorf("GetByName after Delete: %v", err)
		}
		if list, _ := s.List(ctx); len(list) != 1 || list[0].ID != other.ID {
			t.Errorf("List after Delete = %+v", list)
		}
	})
}

func sameSaved(a, b segment.Saved) bool {
	return a.ID == b.ID && a.Name == b.Name && a.OwnerID == b.OwnerID && a.Description == b.Description &&
		a.Expression == b.Expression && a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}

func TestLoadCatalog(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		loadFixture(t, db)
		// A follow by a member not (yet) in members is known too.
		storetest.MustExec(t, db, `INSERT INTO follows (customer_id, member_userid, state, added_at, updated_at)
			SELECT id, 'zhaoliu', '', $1, $1 FROM customers WHERE external_userid = 'c3'`, fxNow)
		e := segment.MustParse("tag:VIP and tag:复购 and group:兴趣 and member:zhaoliu and channel:抖音 and reachable:sms")
		cat, err := segment.LoadCatalog(ctx, db.R, e)
		if err != nil {
			t.Fatal(err)
		}
		if err := segment.Check(e, cat); err != nil {
			t.Fatal(err)
		}
		// Only the names asked for are read while all exist.
		if n := len(cat.Names(segment.FieldTag)); n != 2 {
			t.Errorf("read %d tag names, want 2", n)
		}
		e = segment.MustParse("tag:VIP and tag:复够 and member:lisi")
		cat, err = segment.LoadCatalog(ctx, db.R, e)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(cat.Names(segment.FieldTag), " "); got != "VIP 复购 普通" {
			t.Errorf("tag names for a suggestion: %s", got)
		}
		var se *segment.Error
		if err := segment.Check(e, cat); !errors.As(err, &se) || se.Pos.Col != 13 || se.Msg != "unknown tag 复够; did you mean tag:复购?" {
			t.Errorf("Check = %v", err)
		}
	})
}
