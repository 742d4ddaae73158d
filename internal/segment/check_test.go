package segment_test

import (
	"errors"
	"testing"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/segment"
)

func testCatalog() segment.MapCatalog {
	c := segment.MapCatalog{}
	c.Add(segment.FieldTag, "VIP", "复购", "复购客户", "新客", "高价值")
	c.Add(segment.FieldTagGroup, "会员等级", "兴趣")
	c.Add(segment.FieldMember, "zhangsan", "lisi", "wangwu")
	c.Add(segment.FieldChannel, "双11直播", "抖音")
	return c
}

func TestCheck(t *testing.T) {
	cat := testCatalog()
	if err := segment.Check(segment.MustParse(example), cat); err != nil {
		t.Fatalf("the example: %v", err)
	}
	// reachable and the facts are not the catalog's business.
	if err := segment.Check(segment.MustParse("reachable:email and orders > 1 and added:2026-01-01"), segment.MapCatalog{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		src  string
		col  int
		want string
	}{
		{`tag:vip`, 1, `unknown tag vip; did you mean tag:VIP?`},
		{`tag:VPI`, 1, `unknown tag VPI; did you mean tag:VIP?`},
		{`tag:VIP and not tag:复够`, 17, `unknown tag 复够; did you mean tag:复购?`},
		{`tag:复购客`, 1, `unknown tag 复购客; did you mean tag:复购?`},
		{`tag:"复购 客户"`, 1, `unknown tag "复购 客户"; did you mean tag:复购客户?`},
		{`tag:完全不同的`, 1, `unknown tag 完全不同的`},
		{`tag:x`, 1, `unknown tag x`},
		{`group:会员等`, 1, `unknown tag group 会员等; did you mean group:会员等级?`},
		{`member:zhangsna`, 1, `unknown member zhangsna; did you mean member:zhangsan?`},
		{`(reachable:sms or channel:双十一直播)`, 19, `unknown channel 双十一直播; did you mean channel:双11直播?`},
		{`member:lisi and member:zhaoliu`, 17, `unknown member zhaoliu`},
	} {
		err := segment.Check(segment.MustParse(c.src), cat)
		var se *segment.Error
		if !errors.As(err, &se) {
			t.Errorf("%s: got %v, want a *segment.Error", c.src, err)
			continue
		}
		if se.Pos.Col != c.col || se.Msg != c.want && !(len(se.Msg) > len(c.want) && se.Msg[:len(c.want)] == c.want && se.Msg[len(c.want)] != ';') {
			t.Errorf("%s: got column %d %q, want column %d %q", c.src, se.Pos.Col, se.Msg, c.col, c.want)
		}
		if kith.ErrorCode(err) != kith.EINVALID {
			t.Errorf("%s: code %s", c.src, kith.ErrorCode(err))
		}
	}
}
