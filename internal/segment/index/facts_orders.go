package index

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/kith-scrm/kith/internal/segment"
	"github.com/kith-scrm/kith/internal/store"
)

// The facts of migration 00017 that the orders work keeps (internal/orders):
// more numbers on customers, the first order's day, and what each customer
// bought (customer_skus). They live beside the facts of state.go in an
// orderFacts, read by their own queries, so the build's main reader of
// customers stays as it is.

// Numeric facts of orderFacts.nums, in the order of orderFactColumns.
const (
	ofAOV = iota
	ofRefunds
	ofRefunded
	ofRFM
	ofRFMR
	ofRFMF
	ofRFMM
	numOrderFacts
)

// orderFactFields maps the language's fields to orderFacts.nums.
var orderFactFields = map[segment.Field]int{
	segment.FieldAOV:      ofAOV,
	segment.FieldRefunds:  ofRefunds,
	segment.FieldRefunded: ofRefunded,
	segment.FieldRFM:      ofRFM,
	segment.FieldRFMR:     ofRFMR,
	segment.FieldRFMF:     ofRFMF,
	segment.FieldRFMM:     ofRFMM,
}

// orderFactsQuery reads the numbers (in the order of the constants) and the
// first order.
func orderFactsQuery(d store.Dialect) string {
	return `SELECT id, avg_order_fen, refund_count, refund_fen, rfm_score, rfm_r, rfm_f, rfm_m, ` + epoch(d, "first_order_at") + ` FROM customers WHERE TRUE`
}

// orderFacts are the bitmaps of the facts of 00017.
type orderFacts struct {
	nums       [numOrderFacts]*bsi
	first      *bsi                       // day of the first order
	skus       map[string]*roaring.Bitmap // SKU code → customers who bought it
	categories map[string]*roaring.Bitmap // category → customers who bought a SKU of it
}

func (f *orderFacts) init() {
	for i := range f.nums {
		f.nums[i] = newBSI()
	}
	f.first = newBSI()
	f.skus = map[string]*roaring.Bitmap{}
	f.categories = map[string]*roaring.Bitmap{}
}

// replace forgets the customers of ids, then takes what o says about them.
func (f *orderFacts) replace(ids *roaring.Bitmap, o *orderFacts) {
	for i := range f.nums {
		f.nums[i].remove(ids)
		f.nums[i].merge(o.nums[i])
	}
	f.first.remove(ids)
	f.first.merge(o.first)
	replaceIn(f.skus, ids, o.skus)
	replaceIn(f.categories, ids, o.categories)
}

func (f *orderFacts) sizeInBytes() uint64 {
	n := f.first.sizeInBytes()
	for _, b := range f.nums {
		n += b.sizeInBytes()
	}
	for _, m := range []map[string]*roaring.Bitmap{f.skus, f.categories} {
		for _, bm := range m {
			n += bm.GetSizeInBytes()
		}
	}
	return n
}

// numeric returns the bit-sliced index of a numeric field of 00017, or nil.
func (f *orderFacts) numeric(field segment.Field) *bsi {
	if i, ok := orderFactFields[field]; ok {
		return f.nums[i]
	}
	return nil
}

// orderFacts reads the numbers and the first order of the customers in ids
// (every customer when ids is nil; maxID is then the highest id).
func (l *loader) orderFacts(ctx context.Context, ids []uint32, maxID int64, s *state) error {
	var sinks [numOrderFacts + 1]valueSink
	var dense [numOrderFacts + 1]*denseBSI
	for i := range sinks {
		switch {
		case ids == nil:
			dense[i] = newDenseBSI(uint32(maxID))
			sinks[i] = dense[i]
		case i < numOrderFacts:
			sinks[i] = s.orderFacts.nums[i]
		default:
			sinks[i] = s.orderFacts.first
		}
	}
	var (
		v    [numOrderFacts]int64
		days = l.dayer()
	)
	err := l.read(ctx, ids, orderFactsQuery(l.db.Dialect)+inList("id", ids), func(row []driver.Value) error {
		id, err := asInt64(row[0])
		if err != nil {
			return err
		}
		cid, err := customerID(id)
		if err != nil {
			return err
		}
		for i := range v {
			if v[i], err = asInt64(row[1+i]); err != nil {
				return err
			}
		}
		first, hasFirst, err := days.asDay(row[1+numOrderFacts])
		if err != nil {
			return fmt.Errorf("first_order_at: %w", err)
		}
		for i, x := range v {
			sinks[i].set(cid, x)
		}
		if hasFirst {
			sinks[numOrderFacts].set(cid, first)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("segment index: read order facts: %w", err)
	}
	if ids == nil {
		for i := range numOrderFacts {
			s.orderFacts.nums[i] = dense[i].finish()
		}
		s.orderFacts.first = dense[numOrderFacts].finish()
	}
	return nil
}

// boughtSKUs reads what the customers in ids bought: their SKU codes and
// the categories of those.
func (l *loader) boughtSKUs(ctx context.Context, ids []uint32, s *state) error {
	rows, err := l.db.R.QueryContext(ctx, `SELECT customer_id, sku, category FROM customer_skus WHERE TRUE`+inList("customer_id", ids))
	if err != nil {
		return fmt.Errorf("segment index: read SKUs bought: %w", err)
	}
	defer rows.Close()
	var (
		id            int64
		sku, category sql.RawBytes
	)
	f := &s.orderFacts
	for rows.Next() {
		if err := rows.Scan(&id, &sku, &category); err != nil {
			return fmt.Errorf("segment index: read SKUs bought: %w", err)
		}
		cid, err := customerID(id)
		if err != nil {
			return err
		}
		// As in tags: a lookup by string(bytes) does not allocate.
		if bm, ok := f.skus[string(sku)]; ok {
			bm.Add(cid)
		} else {
			bitmapOf(f.skus, string(sku)).Add(cid)
		}
		if len(category) == 0 {
			continue
		}
		if bm, ok := f.categories[string(category)]; ok {
			bm.Add(cid)
		} else {
			bitmapOf(f.categories, string(category)).Add(cid)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("segment index: read SKUs bought: %w", err)
	}
	return nil
}

// skuCatalog is the merchant's catalogue (sku_categories): SKU codes and
// categories are known from it even when nobody bought them.
type skuCatalog struct {
	skus, categories map[string]bool
}

// loadSKUCatalog reads sku_categories into c.
func (l *loader) loadSKUCatalog(ctx context.Context, c *catalog) error {
	c.skuCat = skuCatalog{skus: map[string]bool{}, categories: map[string]bool{}}
	rows, err := l.db.R.QueryContext(ctx, `SELECT sku, category FROM sku_categories`)
	if err != nil {
		return fmt.Errorf("segment index: read the SKU catalogue: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var sku, category string
		if err := rows.Scan(&sku, &category); err != nil {
			return fmt.Errorf("segment index: read the SKU catalogue: %w", err)
		}
		c.skuCat.skus[sku] = true
		if category != "" {
			c.skuCat.categories[category] = true
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("segment index: read the SKU catalogue: %w", err)
	}
	return nil
}

// hasBought answers Index.Has for sku and category (the caller holds the
// read lock).
func (ix *Index) hasBought(f segment.Field, name string) bool {
	if f == segment.FieldSKU {
		return ix.cat.skuCat.skus[name] || ix.st.orderFacts.skus[name] != nil
	}
	return ix.cat.skuCat.categories[name] || ix.st.orderFacts.categories[name] != nil
}

// boughtNames answers Index.Names for sku and category (the caller holds
// the read lock).
func (ix *Index) boughtNames(f segment.Field) []string {
	known, bought := ix.cat.skuCat.skus, ix.st.orderFacts.skus
	if f == segment.FieldCategory {
		known, bought = ix.cat.skuCat.categories, ix.st.orderFacts.categories
	}
	set := make(map[string]bool, len(known)+len(bought))
	for k := range known {
		set[k] = true
	}
	for k := range bought {
		set[k] = true
	}
	return sortedKeys(set)
}
