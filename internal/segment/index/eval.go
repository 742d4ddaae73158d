package index

import (
	"context"
	"math"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/segment"
)

// MaxPage is the most ids one Page returns.
const MaxPage = 10000

// Count returns how many customers match e.
func (ix *Index) Count(ctx context.Context, e segment.Expr) (uint64, error) {
	bm, err := ix.Eval(ctx, e)
	if err != nil {
		return 0, err
	}
	return bm.GetCardinality(), nil
}

// Page returns up to limit ids of matching customers greater than after, in
// ascending order: pass the last id of a page as after to get the next one
// (0 for the first). Ids are stable: a customer keeps its id.
func (ix *Index) Page(ctx context.Context, e segment.Expr, after uint32, limit int) ([]uint32, error) {
	if limit <= 0 || limit > MaxPage {
		return nil, kith.Errorf(kith.EINVALID, "segment index: a page holds 1 to %d customers, not %d", MaxPage, limit)
	}
	bm, err := ix.Eval(ctx, e)
	if err != nil {
		return nil, err
	}
	out := make([]uint32, 0, min(uint64(limit), bm.GetCardinality()))
	if after == math.MaxUint32 {
		return out, nil
	}
	it := bm.Iterator()
	it.AdvanceIfNeeded(after + 1)
	for len(out) < limit && it.HasNext() {
		out = append(out, it.Next())
	}
	return out, nil
}

// Eval returns the matching customers as a new bitmap the caller owns.
func (ix *Index) Eval(ctx context.Context, e segment.Expr) (*roaring.Bitmap, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if e == nil {
		return nil, kith.Errorf(kith.EINVALID, "segment index: no expression")
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.eval(e, nil)
}

// eval returns the customers of within (every customer when within is nil)
// that match e, as a new bitmap. Narrowing by within is what keeps an "and"
// of many terms cheap: each term works only on what the terms before left.
func (ix *Index) eval(e segment.Expr, within *roaring.Bitmap) (*roaring.Bitmap, error) {
	switch x := e.(type) {
	case *segment.And:
		terms := slices.Clone(x.Terms)
		// Smallest first: set terms by their size, the others after them.
		slices.SortStableFunc(terms, func(a, b segment.Expr) int {
			ca, cb := ix.estimate(a), ix.estimate(b)
			switch {
			case ca < cb:
				return -1
			case ca > cb:
				return 1
			}
			return 0
		})
		cur := within
		for _, t := range terms {
			// After the first term, cur is this "and"'s own: a term
			// narrows it in place.
			owned := cur != within
			var (
				r   *roaring.Bitmap
				err error
			)
			if x, ok := t.(*segment.Term); ok {
				r, err = ix.term(x, cur, owned)
			} else if bms := ix.notSet(t); bms != nil && owned {
				for _, bm := range bms {
					cur.AndNot(bm)
				}
				r = cur
			} else {
				r, err = ix.eval(t, cur)
			}
			if err != nil {
				return nil, err
			}
			cur = r
			if cur.IsEmpty() {
				break
			}
		}
		if cur == within { // no terms: cannot happen for a parsed And
			return ix.universe(within), nil
		}
		return cur, nil
	case *segment.Or:
		parts := make([]*roaring.Bitmap, 0, len(x.Terms))
		for _, t := range x.Terms {
			r, err := ix.eval(t, within)
			if err != nil {
				return nil, err
			}
			parts = append(parts, r)
		}
		return roaring.FastOr(parts...), nil
	case *segment.Not:
		r, err := ix.eval(x.X, within)
		if err != nil {
			return nil, err
		}
		u := ix.universe(within)
		u.AndNot(r)
		return u, nil
	case *segment.Term:
		return ix.term(x, within, false)
	}
	return nil, kith.Errorf(kith.EINVALID, "segment index: unknown expression node %T", e)
}

// universe returns a copy of within, or of every customer.
func (ix *Index) universe(within *roaring.Bitmap) *roaring.Bitmap {
	if within != nil {
		return within.Clone()
	}
	return ix.st.all.Clone()
}

// estimate is how many customers a term of an "and" may match at most, to
// order the terms, most selective first: set terms by their size,
// comparisons by their bounds; a range of days, "not" and "or" come last,
// where the narrowing helps them most.
func (ix *Index) estimate(e segment.Expr) uint64 {
	t, ok := e.(*segment.Term)
	if !ok {
		return math.MaxUint64
	}
	bms := ix.setBitmaps(t)
	if bms == nil {
		if b, c, k, ok := ix.comparison(t); ok {
			return b.estimate(c, k)
		}
		return math.MaxUint64 - 1
	}
	var n uint64
	for _, bm := range bms {
		n += bm.GetCardinality()
	}
	return n
}

// comparison returns the index, operator and constant of a numeric or day
// term with a comparison operator (not a range of days).
func (ix *Index) comparison(t *segment.Term) (*bsi, cmp, int64, bool) {
	c, ok := cmps[t.Op]
	if !ok {
		return nil, 0, 0, false
	}
	if i, ok := numFields[t.Field]; ok {
		return ix.st.nums[i], c, t.Num, true
	}
	switch t.Field {
	case segment.FieldAdded:
		return ix.st.added, c, int64(t.Day), true
	case segment.FieldLastOrder:
		return ix.st.last, c, int64(t.Day), true
	}
	return nil, 0, 0, false
}

// notSet returns the bitmaps of t's set term when t is "not" of one
// (whose customers it excludes), else nil.
func (ix *Index) notSet(t segment.Expr) []*roaring.Bitmap {
	n, ok := t.(*segment.Not)
	if !ok {
		return nil
	}
	x, ok := n.X.(*segment.Term)
	if !ok || x.Op != segment.OpIs {
		return nil
	}
	return ix.setBitmaps(x)
}

// setBitmaps returns the bitmaps whose union answers a set term (none when
// the name is unknown), or nil when t is not a set term.
func (ix *Index) setBitmaps(t *segment.Term) []*roaring.Bitmap {
	out := []*roaring.Bitmap{}
	add := func(bm *roaring.Bitmap) {
		if bm != nil {
			out = append(out, bm)
		}
	}
	switch t.Field {
	case segment.FieldTag:
		for _, id := range ix.cat.tagIDs[t.Name] {
			add(ix.st.tags[id])
		}
	case segment.FieldTagGroup:
		for _, id := range ix.cat.groupIDs[t.Name] {
			add(ix.groups[id])
		}
	case segment.FieldMember:
		add(ix.st.members[t.Name])
	case segment.FieldChannel:
		add(ix.st.channels[t.Name])
	case segment.FieldReachable:
		for i, ch := range reachChannels {
			if ch == t.Name {
				add(ix.st.reach[i])
			}
		}
	case segment.FieldSKU:
		add(ix.st.orderFacts.skus[t.Name])
	case segment.FieldCategory:
		add(ix.st.orderFacts.categories[t.Name])
	default:
		return nil
	}
	return out
}

// numFields maps numeric fields to their bit-sliced index.
var numFields = map[segment.Field]int{
	segment.FieldOrders:     numOrders,
	segment.FieldSpent30d:   numSpent30d,
	segment.FieldSpent90d:   numSpent90d,
	segment.FieldSpent365d:  numSpent365d,
	segment.FieldSpentTotal: numSpentTotal,
}

var cmps = map[segment.Op]cmp{
	segment.OpEq: cmpEq, segment.OpNe: cmpNe, segment.OpLt: cmpLt,
	segment.OpLe: cmpLe, segment.OpGt: cmpGt, segment.OpGe: cmpGe,
}

// term returns the customers of within (every customer when nil) that
// match t; when owned, within is the caller's to change (the result may be
// within itself).
func (ix *Index) term(t *segment.Term, within *roaring.Bitmap, owned bool) (*roaring.Bitmap, error) {
	if bms := ix.setBitmaps(t); bms != nil {
		if t.Op != segment.OpIs {
			return nil, kith.Errorf(kith.EINVALID, "segment index: %s takes \":\", not %q", t.Field, t.Op)
		}
		switch {
		case len(bms) == 0:
			return roaring.New(), nil
		case len(bms) == 1 && owned:
			within.And(bms[0])
			return within, nil
		case len(bms) == 1 && within != nil:
			return roaring.And(bms[0], within), nil
		case len(bms) == 1:
			return bms[0].Clone(), nil
		}
		r := roaring.FastOr(bms...)
		if within != nil {
			r.And(within)
		}
		return r, nil
	}
	scopeOf := func(b *bsi) scope {
		return scope{within: within, owned: owned, valued: within != nil && b.covers(ix.st.all)}
	}
	var b *bsi
	if i, ok := numFields[t.Field]; ok {
		c, ok := cmps[t.Op]
		if !ok {
			return nil, kith.Errorf(kith.EINVALID, "segment index: %s takes a comparison, not %q", t.Field, t.Op)
		}
		b := ix.st.nums[i]
		return b.compareIn(c, t.Num, scopeOf(b)), nil
	}
	if ob := ix.st.orderFacts.numeric(t.Field); ob != nil {
		c, ok := cmps[t.Op]
		if !ok {
			return nil, kith.Errorf(kith.EINVALID, "segment index: %s takes a comparison, not %q", t.Field, t.Op)
		}
		return ob.compareIn(c, t.Num, scopeOf(ob)), nil
	}
	switch t.Field {
	case segment.FieldAdded:
		b = ix.st.added
	case segment.FieldLastOrder:
		b = ix.st.last
	case segment.FieldFirstOrder:
		b = ix.st.orderFacts.first
	default:
		return nil, kith.Errorf(kith.EINVALID, "segment index: unknown field %q", t.Field)
	}
	if t.Op == segment.OpIs {
		if t.From > t.To {
			return roaring.New(), nil
		}
		r := b.compareIn(cmpGe, int64(t.From), scopeOf(b))
		return b.compareIn(cmpLe, int64(t.To), scope{within: r, owned: true, valued: true}), nil
	}
	c, ok := cmps[t.Op]
	if !ok {
		return nil, kith.Errorf(kith.EINVALID, "segment index: %s takes a comparison or a range, not %q", t.Field, t.Op)
	}
	return b.compareIn(c, int64(t.Day), scopeOf(b)), nil
}
