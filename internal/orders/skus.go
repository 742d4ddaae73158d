package orders

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
)

// Bought is what a customer bought of one SKU code (a customer_skus row):
// from the lines of its orders that were paid and not refunded in full
// (status paid, shipped or completed). Lines without a SKU code are not
// counted.
type Bought struct {
	SKU      string    `json:"sku"`
	Category string    `json:"category"` // from the catalogue (SetCategories); "" when it has none
	Orders   int       `json:"orders"`   // orders with a line of it
	Quantity int64     `json:"quantity"`
	SpentFen int64     `json:"spent_fen"` // unit price times quantity, summed
	FirstAt  time.Time `json:"first_at"`  // the first and last such order
	LastAt   time.Time `json:"last_at"`
}

// recomputeSKUs rewrites one customer's customer_skus rows from its orders.
func recomputeSKUs(ctx context.Context, q store.Querier, customerID int64) error {
	if _, err := q.ExecContext(ctx, `DELETE FROM customer_skus WHERE customer_id = $1`, customerID); err != nil {
		return fmt.Errorf("orders: clear SKUs of customer %d: %w", customerID, err)
	}
	if _, err := q.ExecContext(ctx, `INSERT INTO customer_skus (customer_id, sku, category, orders, quantity, spent_fen, first_at, last_at)
		SELECT o.customer_id, i.sku, COALESCE(MAX(c.category), ''), COUNT(DISTINCT o.id), SUM(i.quantity), SUM(i.quantity * i.price_fen),
			MIN(o.ordered_at), MAX(o.ordered_at)
		FROM orders o JOIN order_items i ON i.order_id = o.id LEFT JOIN sku_categories c ON c.sku = i.sku
		WHERE o.customer_id = $1 AND o.status IN ('paid', 'shipped', 'completed') AND i.sku <> ''
		GROUP BY o.customer_id, i.sku`, customerID); err != nil {
		return fmt.Errorf("orders: set SKUs of customer %d: %w", customerID, err)
	}
	return nil
}

// BoughtBy lists what a customer bought, by SKU code.
func (s *Store) BoughtBy(ctx context.Context, customerID int64) ([]Bought, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT sku, category, orders, quantity, spent_fen, first_at, last_at FROM customer_skus
		WHERE customer_id = $1 ORDER BY sku`, customerID)
	if err != nil {
		return nil, fmt.Errorf("orders: read SKUs of customer %d: %w", customerID, err)
	}
	defer rows.Close()
	var out []Bought
	for rows.Next() {
		var b Bought
		if err := rows.Scan(&b.SKU, &b.Category, &b.Orders, &b.Quantity, &b.SpentFen, &b.FirstAt, &b.LastAt); err != nil {
			return nil, fmt.Errorf("orders: read SKUs of customer %d: %w", customerID, err)
		}
		b.FirstAt, b.LastAt = b.FirstAt.UTC(), b.LastAt.UTC()
		out = append(out, b)
	}
	return out, rows.Err()
}

// CategoriesOf lists the categories a customer bought from, sorted.
func (s *Store) CategoriesOf(ctx context.Context, customerID int64) ([]string, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT DISTINCT category FROM customer_skus WHERE customer_id = $1 AND category <> '' ORDER BY category`, customerID)
	if err != nil {
		return nil, fmt.Errorf("orders: read categories of customer %d: %w", customerID, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// SetCategories puts SKU codes in categories in the merchant's catalogue;
// an empty category takes a SKU out of it. What customers bought follows
// in the same transaction.
func (s *Store) SetCategories(ctx context.Context, categories map[string]string) error {
	skus := make([]string, 0, len(categories))
	for sku, cat := range categories {
		switch {
		case strings.TrimSpace(sku) == "" || sku != strings.TrimSpace(sku):
			return kith.Errorf(kith.EINVALID, "SKU code %q is empty or has spaces around it", sku)
		case len(sku) > maxText || len(cat) > maxText:
			return kith.Errorf(kith.EINVALID, "SKU %q: a SKU code or category is longer than %d bytes", truncate(sku, 40), maxText)
		case !utf8.ValidString(sku) || !utf8.ValidString(cat):
			return kith.Errorf(kith.EINVALID, "SKU %q: not valid UTF-8", truncate(sku, 40))
		case cat != strings.TrimSpace(cat):
			return kith.Errorf(kith.EINVALID, "SKU %q: the category %q has spaces around it", sku, cat)
		}
		skus = append(skus, sku)
	}
	slices.Sort(skus)
	now := s.clock.Now().UTC()
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		q := store.NewCachedTx(tx)
		defer q.Close()
		for _, sku := range skus {
			cat := categories[sku]
			var err error
			if cat == "" {
				_, err = q.ExecContext(ctx, `DELETE FROM sku_categories WHERE sku = $1`, sku)
			} else {
				_, err = q.ExecContext(ctx, `INSERT INTO sku_categories (sku, category, updated_at) VALUES ($1, $2, $3)
					ON CONFLICT (sku) DO UPDATE SET category = excluded.category, updated_at = excluded.updated_at`, sku, cat, now)
			}
			if err != nil {
				return fmt.Errorf("orders: set category of %s: %w", sku, err)
			}
			if _, err := q.ExecContext(ctx, `UPDATE customer_skus SET category = $1 WHERE sku = $2 AND category <> $1`, cat, sku); err != nil {
				return fmt.Errorf("orders: set category of %s: %w", sku, err)
			}
		}
		return nil
	})
}

// Categories returns the catalogue: the category of each SKU code in it.
func (s *Store) Categories(ctx context.Context) (map[string]string, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT sku, category FROM sku_categories`)
	if err != nil {
		return nil, fmt.Errorf("orders: read catalogue: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var sku, cat string
		if err := rows.Scan(&sku, &cat); err != nil {
			return nil, err
		}
		out[sku] = cat
	}
	return out, rows.Err()
}
