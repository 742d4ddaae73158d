package segment_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/segment"
)

// The example, as an operator writes it.
const example = `tag:"VIP" and (tag:"复购" or spent_90d >= 500) and not channel:"双11直播" and member:zhangsan and reachable:wecom`

func TestParseTree(t *testing.T) {
	e, err := segment.Parse(example)
	if err != nil {
		t.Fatal(err)
	}
	want := &segment.And{Terms: []segment.Expr{
		&segment.Term{Field: segment.FieldTag, Op: segment.OpIs, Name: "VIP"},
		&segment.Or{Terms: []segment.Expr{
			&segment.Term{Field: segment.FieldTag, Op: segment.OpIs, Name: "复购"},
			&segment.Term{Field: segment.FieldSpent90d, Op: segment.OpGe, Num: 50000},
		}},
		&segment.Not{X: &segment.Term{Field: segment.FieldChannel, Op: segment.OpIs, Name: "双11直播"}},
		&segment.Term{Field: segment.FieldMember, Op: segment.OpIs, Name: "zhangsan"},
		&segment.Term{Field: segment.FieldReachable, Op: segment.OpIs, Name: "wecom"},
	}}
	if !segment.Equal(e, want) {
		t.Fatalf("tree:\n%s\nwant:\n%s", segment.Explain(e), segment.Explain(want))
	}
	// Positions: columns count characters, offsets bytes.
	and := e.(*segment.And)
	not := and.Terms[2].(*segment.Not)
	if got := not.At; got.Col != 50 || got.Offset != strings.Index(example, "not") {
		t.Errorf("not at %+v, want column 50, offset %d", got, strings.Index(example, "not"))
	}
	if got := not.X.Position(); got.Col != 54 {
		t.Errorf("channel at column %d, want 54", got.Col)
	}
	if got := and.Terms[1].(*segment.Or).Terms[1].Position(); got.Col != 28 {
		t.Errorf("spent_90d at column %d, want 28", got.Col)
	}
}

func mustDay(t *testing.T, s string) int32 {
	t.Helper()
	e, err := segment.Parse("added = " + s)
	if err != nil {
		t.Fatal(err)
	}
	return e.(*segment.Term).Day
}

func TestParseValues(t *testing.T) {
	for _, c := range []struct {
		src  string
		want segment.Term
	}{
		{`orders >= 3`, segment.Term{Field: segment.FieldOrders, Op: segment.OpGe, Num: 3}},
		{`orders=0`, segment.Term{Field: segment.FieldOrders, Op: segment.OpEq, Num: 0}},
		{`orders != 2147483647`, segment.Term{Field: segment.FieldOrders, Op: segment.OpNe, Num: 2147483647}},
		{`spent_30d < 99.9`, segment.Term{Field: segment.FieldSpent30d, Op: segment.OpLt, Num: 9990}},
		{`spent_365d <= 0.01`, segment.Term{Field: segment.FieldSpent365d, Op: segment.OpLe, Num: 1}},
		{`spent_total > 500.00`, segment.Term{Field: segment.FieldSpentTotal, Op: segment.OpGt, Num: 50000}},
		{`spent_total > -12.5`, segment.Term{Field: segment.FieldSpentTotal, Op: segment.OpGt, Num: -1250}},
		{`added:1970-01-02`, segment.Term{Field: segment.FieldAdded, Op: segment.OpIs, From: 1, To: 1}},
		{`added:1970-01-01..1970-01-31`, segment.Term{Field: segment.FieldAdded, Op: segment.OpIs, From: 0, To: 30}},
		{`added: 1970-01-01 .. 1970-01-31`, segment.Term{Field: segment.FieldAdded, Op: segment.OpIs, From: 0, To: 30}},
		{`added:1970-01-01.. 1970-01-31`, segment.Term{Field: segment.FieldAdded, Op: segment.OpIs, From: 0, To: 30}},
		{`added >= 2026-01-01`, segment.Term{Field: segment.FieldAdded, Op: segment.OpGe, Day: 20454}},
		{`last_order < 1969-12-31`, segment.Term{Field: segment.FieldLastOrder, Op: segment.OpLt, Day: -1}},
		{`reachable:SMS`, segment.Term{Field: segment.FieldReachable, Op: segment.OpIs, Name: "sms"}},
		{`member:zhang.san@corp-1`, segment.Term{Field: segment.FieldMember, Op: segment.OpIs, Name: "zhang.san@corp-1"}},
		{`tag:"a \"b\" \\ c"`, segment.Term{Field: segment.FieldTag, Op: segment.OpIs, Name: `a "b" \ c`}},
		{`group:“会员等级”`, segment.Term{Field: segment.FieldTagGroup, Op: segment.OpIs, Name: "会员等级"}},
		{`group:＂会员 等级＂`, segment.Term{Field: segment.FieldTagGroup, Op: segment.OpIs, Name: "会员 等级"}},
		{`tag:"and"`, segment.Term{Field: segment.FieldTag, Op: segment.OpIs, Name: "and"}},
		{`TAG:VIP`, segment.Term{Field: segment.FieldTag, Op: segment.OpIs, Name: "VIP"}},
		{`tag：VIP`, segment.Term{Field: segment.FieldTag, Op: segment.OpIs, Name: "VIP"}},
		{`orders ＞＝ 3`, segment.Term{Field: segment.FieldOrders, Op: segment.OpGe, Num: 3}},
		{`（（tag:VIP））`, segment.Term{Field: segment.FieldTag, Op: segment.OpIs, Name: "VIP"}},
		{`ＳＰＥＮＴ＿９０Ｄ ＞＝ １２．５`, segment.Term{Field: segment.FieldSpent90d, Op: segment.OpGe, Num: 1250}},
		{`orders ＜ ３`, segment.Term{Field: segment.FieldOrders, Op: segment.OpLt, Num: 3}},
		{`added：１９７０－０１－０１．．１９７０－０１－０２`, segment.Term{Field: segment.FieldAdded, Op: segment.OpIs, From: 0, To: 1}},
		{`added:1970-01-01 ．．1970-01-02`, segment.Term{Field: segment.FieldAdded, Op: segment.OpIs, From: 0, To: 1}},
		{`reachable:ＷｅＣｏｍ`, segment.Term{Field: segment.FieldReachable, Op: segment.OpIs, Name: "wecom"}},
		{`tag:ＶＩＰ`, segment.Term{Field: segment.FieldTag, Op: segment.OpIs, Name: "ＶＩＰ"}}, // names keep their width
	} {
		e, err := segment.Parse(c.src)
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		if !segment.Equal(e, &c.want) {
			t.Errorf("%s: got %+v, want %+v", c.src, e, c.want)
		}
	}
}

func TestParseCanonical(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{example, `tag:VIP and (tag:复购 or spent_90d >= 500) and not channel:双11直播 and member:zhangsan and reachable:wecom`},
		{`TAG:vip AND Tag:"x" oR NOT tag:y`, `tag:vip and tag:x or not tag:y`},
		{`tag:a and (tag:b and (tag:c and tag:d))`, `tag:a and tag:b and tag:c and tag:d`},
		{`(tag:a or tag:b) or (tag:c or tag:d)`, `tag:a or tag:b or tag:c or tag:d`},
		{`(tag:a and tag:b) or tag:c`, `tag:a and tag:b or tag:c`},
		{`tag:a and (tag:b or tag:c)`, `tag:a and (tag:b or tag:c)`},
		{`not (tag:a and tag:b)`, `not (tag:a and tag:b)`},
		{`not (not (tag:a))`, `not not tag:a`},
		{`(not tag:a) and tag:b`, `not tag:a and tag:b`},
		{`tag:"VIP 客户"`, `tag:"VIP 客户"`},
		{`tag:"Not"`, `tag:"Not"`},
		{`tag:"a(b)"`, `tag:"a(b)"`},
		{`tag:“引号"里”`, `tag:"引号\"里"`},
		{`spent_90d >= 500.50`, `spent_90d >= 500.5`},
		{`spent_90d>=0.05`, `spent_90d >= 0.05`},
		{`spent_total<-0.5`, `spent_total < -0.5`},
		{`added:2026-01-01..2026-01-01`, `added:2026-01-01`},
		{`last_order>=2026-1-1`, ``}, // not a date: see TestParseErrors
		{`reachable:WeCom`, `reachable:wecom`},
		{`tag:a ＡＮＤ ｎｏｔ tag:"ＯＲ"`, `tag:a and not tag:"ＯＲ"`},
		{`tag:Ａ－Ｂ`, `tag:"Ａ－Ｂ"`},
	} {
		if c.want == "" {
			continue
		}
		e, err := segment.Parse(c.src)
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		if got := segment.String(e); got != c.want {
			t.Errorf("String(Parse(%s)) = %s, want %s", c.src, got, c.want)
		}
		again, err := segment.Parse(segment.String(e))
		if err != nil || !segment.Equal(again, e) {
			t.Errorf("%s: the canonical form does not parse back to the same tree (%v)", c.src, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	deep := strings.Repeat("(", 33) + "tag:a" + strings.Repeat(")", 33)
	nots := strings.Repeat("not ", 33) + "tag:a"
	for _, c := range []struct {
		src  string
		col  int
		want string
	}{
		{``, 1, "empty"},
		{" \t\n\u3000", 1, "empty"},
		{`()`, 2, "expected a condition"},
		{`tag:VIP and`, 12, "expected a condition (such as tag:VIP), '(' or not, found the end"},
		{`tag:VIP or or tag:b`, 12, "expected a condition"},
		{`tag:VIP tag:b`, 9, "expected and, or or the end, found 'tag'"},
		{`tag:VIP )`, 9, "closes nothing"},
		{`(tag:VIP`, 9, "to close the '(' at column 1"},
		{`tga:VIP`, 1, "unknown field 'tga'; did you mean tag?"},
		{`VIP`, 1, "unknown field 'VIP'; a condition is a field"},
		{`spent_90:3`, 1, "did you mean spent_90d?"},
		{`tag`, 4, "expected ':' and a name after tag, found the end"},
		{`orders 3`, 8, "expected a comparison (=, !=, <, <=, >, >=) after orders, found '3'"},
		{`tag >= 3`, 5, "tag takes ':' and a name, like tag:VIP, not '>='"},
		{`member = zhangsan`, 8, "member takes ':'"},
		{`tag:`, 5, "expected a tag name after ':', found the end"},
		{`tag:()`, 5, "expected a tag name"},
		{`tag:and`, 5, `quote it: tag:"and"`},
		{`tag:""`, 5, "the tag name is empty"},
		{`tag:"VIP`, 5, "no closing \""},
		{`tag:“VIP"`, 5, "no closing ”"},
		{`tag:"a\nb"`, 7, "unknown escape"},
		{"tag:\"a\nb\"", 7, "control character"},
		{`tag:50%off`, 7, "unexpected character '%'"},
		{`tag!VIP`, 4, "expected '!='"},
		{`reachable:fax`, 11, `reachable takes wecom, sms or email, not "fax"`},
		{`reachable >= 1`, 11, "reachable takes ':'"},
		{`spent_90d >= "abc"`, 14, `spent_90d wants an amount in yuan such as 500 or 99.90 (at most two decimals), not "abc"`},
		{`spent_90d >= abc`, 14, "not 'abc'"},
		{`spent_90d >= 12.345`, 14, "at most two decimals"},
		{`spent_90d >= 1.`, 14, "amount"},
		{`spent_90d >= 1234567890123456`, 14, "amount"},
		{`spent_90d:500`, 10, "spent_90d takes a comparison, like spent_90d >= 500, not ':'"},
		{`orders >= -1`, 11, "a count such as 3"},
		{`orders >= 1.5`, 11, "a count"},
		{`orders >= 2147483648`, 11, "a count"},
		{`orders:3`, 7, "orders takes a comparison, like orders >= 3"},
		{`added:2026-02-30`, 7, "added wants a date such as 2026-01-31, not '2026-02-30'"},
		{`added >= 2026-1-1`, 10, "a date such as"},
		{`added >= "2026-01-01"`, 10, "a date such as"},
		{`added:2026-01-31..2026-01-01`, 7, "ends before it starts"},
		{`added:2026-01-01..`, 7, "a range of dates"},
		{`added:2026-01-01..2026-01-31..2026-02-01`, 7, "a range of dates"},
		{`added > 2026-01-01..2026-02-01`, 7, "a range of days takes ':'"},
		{`last_order >= 0999-12-31`, 15, "a date"},
		{deep, 33, "nests parentheses and not more than 32 deep"},
		{nots, 129, "more than 32 deep"},
		{"tag:\xff", 5, "not valid UTF-8"},
		{"tag:a or " + strings.Repeat("x", segment.MaxLen), segment.MaxLen + 1, "bytes long; the limit is 4096"},
	} {
		_, err := segment.Parse(c.src)
		var se *segment.Error
		if !errors.As(err, &se) {
			t.Errorf("%q: got %v, want a *segment.Error", c.src, err)
			continue
		}
		if se.Pos.Col != c.col || !strings.Contains(se.Msg, c.want) {
			t.Errorf("%q: got column %d %q, want column %d and %q", c.src, se.Pos.Col, se.Msg, c.col, c.want)
		}
		if kith.ErrorCode(err) != kith.EINVALID || !strings.HasPrefix(kith.ErrorMessage(err), "column ") {
			t.Errorf("%q: code %s message %q, want invalid and the column", c.src, kith.ErrorCode(err), kith.ErrorMessage(err))
		}
	}
}

func TestParseLimitsAccepted(t *testing.T) {
	// Exactly at the limits is fine.
	deep := strings.Repeat("(", 32) + "tag:a" + strings.Repeat(")", 32)
	if _, err := segment.Parse(deep); err != nil {
		t.Errorf("32 parentheses: %v", err)
	}
	nots := strings.Repeat("not ", 32) + "tag:a"
	if _, err := segment.Parse(nots); err != nil {
		t.Errorf("32 nots: %v", err)
	}
	long := "tag:a or tag:" + strings.Repeat("x", segment.MaxLen-len("tag:a or tag:"))
	if _, err := segment.Parse(long); err != nil {
		t.Errorf("4096 bytes: %v", err)
	}
}

func TestErrorPointer(t *testing.T) {
	src := `tag:复购 and ordrs >= 3`
	_, err := segment.Parse(src)
	var se *segment.Error
	if !errors.As(err, &se) {
		t.Fatal(err)
	}
	// 复购 is two characters but four terminal columns wide.
	want := src + "\n" + strings.Repeat(" ", 13) + "^"
	if got := se.Pointer(src); got != want {
		t.Errorf("pointer:\n%s\nwant:\n%s", got, want)
	}
	if got := se.Error(); got != "segment: column 12: unknown field 'ordrs'; did you mean orders?" {
		t.Errorf("Error() = %q", got)
	}
}
