package segment_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kith-scrm/kith/internal/segment"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// The facts of migration 00017 in the language: sku, category, aov,
// refunds, refunded, rfm, rfm_r, rfm_f, rfm_m and first_order.

func TestParseFactTerms(t *testing.T) {
	for _, c := range []struct {
		src  string
		want segment.Term
		out  string // canonical form
	}{
		{`aov >= 200`, segment.Term{Field: segment.FieldAOV, Op: segment.OpGe, Num: 20000}, `aov >= 200`},
		{`AOV < 99.9`, segment.Term{Field: segment.FieldAOV, Op: segment.OpLt, Num: 9990}, `aov < 99.9`},
		{`refunds >= 1`, segment.Term{Field: segment.FieldRefunds, Op: segment.OpGe, Num: 1}, `refunds >= 1`},
		{`refunded >= 50`, segment.Term{Field: segment.FieldRefunded, Op: segment.OpGe, Num: 5000}, `refunded >= 50`},
		{`refunded > 0.01`, segment.Term{Field: segment.FieldRefunded, Op: segment.OpGt, Num: 1}, `refunded > 0.01`},
		{`rfm:555`, segment.Term{Field: segment.FieldRFM, Op: segment.OpEq, Num: 555}, `rfm = 555`},
		{`rfm：１１１`, segment.Term{Field: segment.FieldRFM, Op: segment.OpEq, Num: 111}, `rfm = 111`},
		{`rfm >= 400`, segment.Term{Field: segment.FieldRFM, Op: segment.OpGe, Num: 400}, `rfm >= 400`},
		{`rfm_r >= 4`, segment.Term{Field: segment.FieldRFMR, Op: segment.OpGe, Num: 4}, `rfm_r >= 4`},
		{`rfm_f = 5`, segment.Term{Field: segment.FieldRFMF, Op: segment.OpEq, Num: 5}, `rfm_f = 5`},
		{`rfm_m != 0`, segment.Term{Field: segment.FieldRFMM, Op: segment.OpNe, Num: 0}, `rfm_m != 0`},
		{`first_order:2026-01-01..2026-03-31`, segment.Term{Field: segment.FieldFirstOrder, Op: segment.OpIs, From: 20454, To: 20543}, `first_order:2026-01-01..2026-03-31`},
		{`first_order >= 2026-01-01`, segment.Term{Field: segment.FieldFirstOrder, Op: segment.OpGe, Day: 20454}, `first_order >= 2026-01-01`},
		{`sku:"SKU123"`, segment.Term{Field: segment.FieldSKU, Op: segment.OpIs, Name: "SKU123"}, `sku:SKU123`},
		{`SKU:"A 1/2"`, segment.Term{Field: segment.FieldSKU, Op: segment.OpIs, Name: "A 1/2"}, `sku:"A 1/2"`},
		{`category:"女装"`, segment.Term{Field: segment.FieldCategory, Op: segment.OpIs, Name: "女装"}, `category:女装`},
		{`category:“男装 上衣”`, segment.Term{Field: segment.FieldCategory, Op: segment.OpIs, Name: "男装 上衣"}, `category:"男装 上衣"`},
	} {
		e, err := segment.Parse(c.src)
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		if !segment.Equal(e, &c.want) {
			t.Errorf("%s: got %+v, want %+v", c.src, e, c.want)
		}
		if got := segment.String(e); got != c.out {
			t.Errorf("String(Parse(%s)) = %s, want %s", c.src, got, c.out)
		}
		if again, err := segment.Parse(c.out); err != nil || !segment.Equal(again, e) {
			t.Errorf("%s: the canonical form does not parse back (%v)", c.src, err)
		}
	}
}

func TestParseFactErrors(t *testing.T) {
	for _, c := range []struct {
		src  string
		col  int
		want string
	}{
		{`aov:200`, 4, "aov takes a comparison, like aov >= 500, not ':'"},
		{`aov >= "abc"`, 8, `aov wants an amount in yuan`},
		{`aov >= 1.234`, 8, `aov wants an amount in yuan`},
		{`refunds >= 1.5`, 12, "refunds wants a count such as 3"},
		{`refunds >= -1`, 12, "refunds wants a count"},
		{`rfm:5x5`, 5, "rfm wants a count"},
		{`rfm_r:4`, 6, "rfm_r takes a comparison"},
		{`rfm:`, 5, "rfm wants a count"},
		{`first_order >= 2026-13-01`, 16, "first_order wants a date"},
		{`first_order >= 2026-01-01..2026-02-01`, 13, "a range of days takes ':'"},
		{`first_order:2026-02-01..2026-01-01`, 13, "ends before it starts"},
		{`sku >= 3`, 5, "sku takes ':' and a name, like sku:SKU123"},
		{`sku:`, 5, "expected a sku name"},
		{`category:""`, 10, "the category name is empty"},
		{`category = 女装`, 10, "category takes ':' and a name, like category:女装"},
		{`categroy:女装`, 1, "did you mean category?"},
		{`first_ordr:2026-01-01`, 1, "did you mean first_order?"},
		{`rfmr >= 3`, 1, "did you mean rfm?"},
		{`rfm_q >= 3`, 1, "did you mean rfm_f?"}, // ties go to the first in order
	} {
		_, err := segment.Parse(c.src)
		var se *segment.Error
		if !errors.As(err, &se) {
			t.Errorf("%s: got %v, want a *segment.Error", c.src, err)
			continue
		}
		if se.Pos.Col != c.col || !strings.Contains(se.Msg, c.want) {
			t.Errorf("%s: got column %d %q, want column %d %q", c.src, se.Pos.Col, se.Msg, c.col, c.want)
		}
	}
}

func TestCheckFactNames(t *testing.T) {
	cat := segment.MapCatalog{}
	cat.Add(segment.FieldSKU, "SKU123", "SKU124", "A-100")
	cat.Add(segment.FieldCategory, "女装", "男装", "童装鞋")
	if err := segment.Check(segment.MustParse(`sku:SKU123 and category:女装 and aov >= 1 and rfm:555 and first_order:2026-01-01`), cat); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		src  string
		col  int
		want string
	}{
		{`sku:sku123`, 1, `unknown SKU sku123; did you mean sku:SKU123?`},
		{`sku:A-10`, 1, `unknown SKU A-10; did you mean sku:A-100?`},
		{`sku:ZZZ`, 1, `unknown SKU ZZZ`},
		{`reachable:sms or category:女裝`, 18, `unknown category 女裝; did you mean category:女装?`},
		{`category:童装`, 1, `unknown category 童装; did you mean category:女装?`}, // as close as 童装鞋, and first
	} {
		err := segment.Check(segment.MustParse(c.src), cat)
		var se *segment.Error
		if !errors.As(err, &se) || se.Pos.Col != c.col || se.Msg != c.want {
			t.Errorf("%s: got %v, want column %d %q", c.src, err, c.col, c.want)
		}
	}
}

func TestLoadCatalogFacts(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		loadFixture(t, db)
		// SKU-C is only bought (not in the catalogue), SKU-E only in it.
		e := segment.MustParse("sku:SKU-C and sku:SKU-E and category:童装 and category:鞋")
		cat, err := segment.LoadCatalog(ctx, db.R, e)
		if err != nil {
			t.Fatal(err)
		}
		if err := segment.Check(e, cat); err != nil {
			t.Fatal(err)
		}
		e = segment.MustParse("sku:SKU-F or category:女")
		cat, err = segment.LoadCatalog(ctx, db.R, e)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(cat.Names(segment.FieldSKU), " "); got != "SKU-A SKU-B SKU-C SKU-D SKU-E" {
			t.Errorf("SKU names for a suggestion: %s", got)
		}
		if got := strings.Join(cat.Names(segment.FieldCategory), " "); got != "女装 童装 鞋" {
			t.Errorf("category names for a suggestion: %s", got)
		}
		var se *segment.Error
		if err := segment.Check(e, cat); !errors.As(err, &se) || se.Msg != "unknown SKU SKU-F; did you mean sku:SKU-A?" {
			t.Errorf("Check = %v", err)
		}
	})
}

func TestExplainFacts(t *testing.T) {
	e := segment.MustParse(`sku:SKU123 and category:女装 and aov >= 200 and refunds >= 1 and refunded > 50 and rfm:555 and rfm_r >= 4 and rfm_f < 2 and rfm_m = 5 and first_order:2026-01-01..2026-03-31`)
	want := `and: all of
  sku:SKU123  bought the SKU "SKU123" (paid, not refunded in full)
  category:女装  bought a SKU of the category "女装" (paid, not refunded in full)
  aov >= 200  average order value (net of refunds) ≥ ¥200 (no orders: 0)
  refunds >= 1  purchases with money back ≥ 1
  refunded > 50  money refunded in total > ¥50
  rfm = 555  RFM score (100 R + 10 F + M, 0 without purchases) = 555
  rfm_r >= 4  recency quintile (5 bought most recently, 0 never) ≥ 4
  rfm_f < 2  frequency quintile (5 buys most often, 0 never) < 2
  rfm_m = 5  monetary quintile (5 spent most, 0 never) = 5
  first_order:2026-01-01..2026-03-31  the first order was from 2026-01-01 to 2026-03-31 inclusive (no orders: never matches)
`
	if got := segment.Explain(e); got != want {
		t.Errorf("Explain:\n%s\nwant:\n%s", got, want)
	}
}
