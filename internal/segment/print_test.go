package segment_test

import (
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/segment"
)

func TestStringOfBuiltTrees(t *testing.T) {
	a := &segment.Term{Field: segment.FieldTag, Op: segment.OpIs, Name: "a"}
	b := &segment.Term{Field: segment.FieldTag, Op: segment.OpIs, Name: "b"}
	c := &segment.Term{Field: segment.FieldTag, Op: segment.OpIs, Name: "c"}
	for _, x := range []struct {
		e    segment.Expr
		want string
	}{
		{&segment.And{Terms: []segment.Expr{a, &segment.And{Terms: []segment.Expr{b, c}}}}, "tag:a and tag:b and tag:c"},
		{&segment.Or{Terms: []segment.Expr{&segment.Or{Terms: []segment.Expr{a, b}}, c}}, "tag:a or tag:b or tag:c"},
		{&segment.And{Terms: []segment.Expr{&segment.Or{Terms: []segment.Expr{a, b}}, c}}, "(tag:a or tag:b) and tag:c"},
		{&segment.Or{Terms: []segment.Expr{&segment.And{Terms: []segment.Expr{a, b}}, c}}, "tag:a and tag:b or tag:c"},
		{&segment.Not{X: &segment.Or{Terms: []segment.Expr{a, b}}}, "not (tag:a or tag:b)"},
		{&segment.Not{X: &segment.And{Terms: []segment.Expr{a, b}}}, "not (tag:a and tag:b)"},
		{&segment.And{Terms: []segment.Expr{&segment.Not{X: a}, &segment.Not{X: &segment.Not{X: b}}}}, "not tag:a and not not tag:b"},
		{&segment.Term{Field: segment.FieldLastOrder, Op: segment.OpNe, Day: 0}, "last_order != 1970-01-01"},
		{&segment.Term{Field: segment.FieldAdded, Op: segment.OpIs, From: -1, To: 31}, "added:1969-12-31..1970-02-01"},
		{&segment.Term{Field: segment.FieldSpentTotal, Op: segment.OpGe, Num: -1}, "spent_total >= -0.01"},
		{&segment.Term{Field: segment.FieldOrders, Op: segment.OpLt, Num: 10}, "orders < 10"},
	} {
		if got := segment.String(x.e); got != x.want {
			t.Errorf("String = %s, want %s", got, x.want)
		}
	}
}

func TestQuoteName(t *testing.T) {
	for in, want := range map[string]string{
		"VIP": "VIP", "复购": "复购", "zhang.san@x-1_2": "zhang.san@x-1_2", "１２": "１２",
		"a b": `"a b"`, "": `""`, "OR": `"OR"`, "not": `"not"`, "android": "android",
		`a"b`: `"a\"b"`, `a\b`: `"a\\b"`, "a:b": `"a:b"`, "（x）": `"（x）"`, "x：y": `"x：y"`, "双11·直播": `"双11·直播"`,
	} {
		if got := segment.QuoteName(in); got != want {
			t.Errorf("QuoteName(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestFormatAmount(t *testing.T) {
	for fen, want := range map[int64]string{0: "0", 1: "0.01", 10: "0.1", 99: "0.99", 100: "1", 50050: "500.5", 50025: "500.25", -1250: "-12.5", -5: "-0.05"} {
		if got := segment.FormatAmount(fen); got != want {
			t.Errorf("FormatAmount(%d) = %s, want %s", fen, got, want)
		}
	}
}

func TestDays(t *testing.T) {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	d := mustDay(t, "2026-01-01")
	if d != 20454 || segment.FormatDay(d) != "2026-01-01" {
		t.Fatalf("2026-01-01 is day %d (%s)", d, segment.FormatDay(d))
	}
	if got, want := segment.DayStart(d, shanghai), time.Date(2025, 12, 31, 16, 0, 0, 0, time.UTC); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("DayStart = %v, want %v in UTC", got, want)
	}
	if got := segment.DayOf(time.Date(2025, 12, 31, 16, 0, 0, 0, time.UTC), shanghai); got != d {
		t.Errorf("DayOf(16:00Z) = %d, want %d", got, d)
	}
	if got := segment.DayOf(time.Date(2025, 12, 31, 15, 59, 59, 0, time.UTC), shanghai); got != d-1 {
		t.Errorf("DayOf(15:59:59Z) = %d, want %d", got, d-1)
	}
	if mustDay(t, "1000-01-01") != -354285 || mustDay(t, "9999-12-31") != 2932896 {
		t.Error("the bounds of days moved")
	}
}

func TestExplain(t *testing.T) {
	e := segment.MustParse(example + ` or added:2026-01-01..2026-01-31 and last_order < 2026-02-01 and orders != 0 and spent_total = 1 and reachable:email`)
	want := `or: any of
  and: all of
    tag:VIP  has the tag "VIP" (in any group) on an active follow
    or: any of
      tag:复购  has the tag "复购" (in any group) on an active follow
      spent_90d >= 500  spent in the last 90 days ≥ ¥500
    not: all customers except
      channel:双11直播  arrived through the channel "双11直播" (state of an active follow)
    member:zhangsan  is followed by the member "zhangsan" (active follow)
    reachable:wecom  may be sent marketing on wecom: consent granted, not expired, not suppressed
  and: all of
    added:2026-01-01..2026-01-31  the earliest active follow was added from 2026-01-01 to 2026-01-31 inclusive (no active follow: never matches)
    last_order < 2026-02-01  the last order was on a day < 2026-02-01 (no orders: never matches)
    orders != 0  order count ≠ 0
    spent_total = 1  spent in total = ¥1
    reachable:email  may be sent marketing by email (no customer has an email identity yet: matches nobody)
`
	if got := segment.Explain(e); got != want {
		t.Errorf("Explain:\n%s\nwant:\n%s", got, want)
	}
}

func TestEqual(t *testing.T) {
	a := segment.MustParse("tag:a and not (tag:b or orders > 1)")
	if !segment.Equal(a, segment.MustParse("  TAG:a AND NOT (tag:b OR orders>1)")) {
		t.Error("the same tree at other positions is not Equal")
	}
	for _, other := range []string{"tag:a and not (tag:b or orders > 2)", "tag:a and not (tag:b or orders >= 1)", "tag:a and (tag:b or orders > 1)", "tag:a or not (tag:b or orders > 1)", "tag:a and not (tag:b and orders > 1)", "tag:a and not (tag:b or orders > 1) and tag:c"} {
		if segment.Equal(a, segment.MustParse(other)) {
			t.Errorf("%s is Equal to %s", other, segment.String(a))
		}
	}
}

func TestValidate(t *testing.T) {
	a := &segment.Term{Field: segment.FieldTag, Op: segment.OpIs, Name: "a"}
	for name, e := range map[string]segment.Expr{
		"nil":             nil,
		"empty and":       &segment.And{},
		"one-term or":     &segment.Or{Terms: []segment.Expr{a}},
		"nil term":        &segment.And{Terms: []segment.Expr{a, nil}},
		"empty not":       &segment.Not{},
		"unknown field":   &segment.Term{Field: "age", Op: segment.OpIs, Name: "x"},
		"tag with >=":     &segment.Term{Field: segment.FieldTag, Op: segment.OpGe, Name: "x"},
		"empty name":      &segment.Term{Field: segment.FieldMember, Op: segment.OpIs},
		"control":         &segment.Term{Field: segment.FieldTag, Op: segment.OpIs, Name: "a\nb"},
		"fax":             &segment.Term{Field: segment.FieldReachable, Op: segment.OpIs, Name: "fax"},
		"orders :":        &segment.Term{Field: segment.FieldOrders, Op: segment.OpIs, Num: 1},
		"negative count":  &segment.Term{Field: segment.FieldOrders, Op: segment.OpGe, Num: -1},
		"huge amount":     &segment.Term{Field: segment.FieldSpent30d, Op: segment.OpGe, Num: 1e17},
		"backwards range": &segment.Term{Field: segment.FieldAdded, Op: segment.OpIs, From: 2, To: 1},
		"year 10000":      &segment.Term{Field: segment.FieldLastOrder, Op: segment.OpGe, Day: 2932897},
		"bad op":          &segment.Term{Field: segment.FieldAdded, Op: "~", Day: 1},
	} {
		if err := segment.Validate(e); err == nil {
			t.Errorf("%s: Validate accepted it", name)
		}
	}
	var deep segment.Expr = a
	for range 100 {
		deep = &segment.Not{X: deep}
	}
	if segment.Validate(deep) == nil {
		t.Error("Validate accepted 100 nested nots")
	}
}
