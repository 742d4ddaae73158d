package segment_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/segment"
	"github.com/kith-scrm/kith/internal/store"
)

var fuzzSeeds = []string{
	example,
	`tag:VIP`, `not tag:VIP`, `TAG:"VIP" AND NOT (member:lisi OR channel:x)`,
	`added:2026-01-01..2026-01-31`, `added >= 2026-01-01`, `last_order != 2025-12-31`,
	`orders >= 3 and spent_30d < 99.99 or spent_total > -1`, `reachable:sms or reachable:email`,
	`group:“会员等级”`, `（tag：VIP）`, `tag:"a\"b\\c"`, `tag:"and"`, `tag:VIP tag:b`, `(`, `)`, `""`,
	`added: 2026-01-01 .. 2026-01-31`, `not not not tag:a`, `tag:a and (tag:b or (tag:c and not tag:d))`,
	"tag:\xff", `spent_90d >= 12.345`, `orders ＞＝ 3`, `tag:"会员 A"`, `tag:ẞ`, `tag:a̐`,
	`ＴＡＧ:ＶＩＰ ＡＮＤ spent_90d ＞＝ １２．５`, `added：２０２６－０１－０１．．２０２６－０１－３１`, `tag:"ＡＮＤ"`, `tag:Ａ－Ｂ`,
	`aov >= 200`, `refunds >= 1`, `refunded >= 50.5`, `rfm:555`, `rfm：５５５`, `rfm >= 400`, `rfm_r >= 4 and rfm_f = 5 or rfm_m < 2`,
	`first_order:2026-01-01..2026-03-31`, `first_order >= 2026-01-01`, `sku:"SKU123"`, `category:"女装"`, `sku:A-1 or not category:“男装 上衣”`,
	`rfm:`, `aov:1`, `sku >= 3`, `category:and`,
}

// FuzzParse checks that Parse never panics, that its errors are *Error
// with a position inside the text and kith.EINVALID, and that every tree it
// returns is valid, prints to a form that parses back to the same tree and
// prints the same again, and turns into SQL whose placeholders match its
// arguments.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	opts := segment.SQLOptions{Location: time.FixedZone("CST", 8*3600), Now: time.Unix(1e9, 0)}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := segment.Parse(src)
		if err != nil {
			var se *segment.Error
			if !errors.As(err, &se) || kith.ErrorCode(err) != kith.EINVALID {
				t.Fatalf("%q: error %v is not a *segment.Error with code invalid", src, err)
			}
			if se.Pos.Offset < 0 || se.Pos.Offset > len(src) || se.Pos.Col < 1 || se.Pos.Col > len(src)+1 {
				t.Fatalf("%q: error position %+v outside the text", src, se.Pos)
			}
			return
		}
		if err := segment.Validate(e); err != nil {
			t.Fatalf("%q: parsed tree is not valid: %v", src, err)
		}
		printed := segment.String(e)
		again, err := segment.Parse(printed)
		if err != nil {
			t.Fatalf("%q: canonical form %q does not parse: %v", src, printed, err)
		}
		if !segment.Equal(e, again) {
			t.Fatalf("%q: canonical form %q parses to another tree:\n%s\nwant:\n%s", src, printed, segment.Explain(again), segment.Explain(e))
		}
		if p2 := segment.String(again); p2 != printed {
			t.Fatalf("%q: printed %q, then %q", src, printed, p2)
		}
		q, args, err := segment.SQL(store.Postgres, e, opts)
		if err != nil {
			t.Fatalf("%q: SQL: %v", src, err)
		}
		if n := strings.Count(q, "$"); n != len(args) {
			t.Fatalf("%q: %d placeholders, %d arguments", src, n, len(args))
		}
		if strings.Count(q, "'") != 2*strings.Count(q, "= '") {
			t.Fatalf("%q: a value reached the SQL text: %s", src, q)
		}
	})
}
