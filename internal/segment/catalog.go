package segment

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/kith-scrm/kith/internal/store"
)

// catalogQueries say, per field, how to find which of some names exist
// (the names follow as $1…$n) and how to list the names for a suggestion.
var catalogQueries = map[Field]struct{ exist, all string }{
	FieldTag:      {"SELECT name FROM tags WHERE name IN (%s)", "SELECT DISTINCT name FROM tags"},
	FieldTagGroup: {"SELECT name FROM tag_groups WHERE name IN (%s)", "SELECT DISTINCT name FROM tag_groups"},
	// A member is known from the members table, or from a follow written
	// before the members were synced.
	FieldMember: {"SELECT userid FROM members WHERE userid IN (%[1]s) UNION SELECT member_userid FROM follows WHERE member_userid IN (%[1]s)",
		"SELECT userid FROM members UNION SELECT member_userid FROM follows"},
	// A channel is a follow's state (the contact way's state parameter).
	FieldChannel: {"SELECT DISTINCT state FROM follows WHERE state IN (%s)", "SELECT DISTINCT state FROM follows WHERE state <> ''"},
	// A SKU code is known from the merchant's catalogue or from what a
	// customer bought; a category likewise.
	FieldSKU: {"SELECT sku FROM sku_categories WHERE sku IN (%[1]s) UNION SELECT sku FROM customer_skus WHERE sku IN (%[1]s)",
		"SELECT sku FROM sku_categories UNION SELECT sku FROM customer_skus"},
	FieldCategory: {"SELECT category FROM sku_categories WHERE category IN (%[1]s) UNION SELECT category FROM customer_skus WHERE category IN (%[1]s)",
		"SELECT category FROM sku_categories UNION SELECT category FROM customer_skus WHERE category <> ''"},
}

// maxSuggestNames bounds how many names are read to find a suggestion.
const maxSuggestNames = 20000

// LoadCatalog reads from q the part of the catalog that e's names need:
// which of them exist and, for a field where one does not, that field's
// names (up to 20,000) to suggest the closest from.
func LoadCatalog(ctx context.Context, q store.Querier, e Expr) (MapCatalog, error) {
	wanted := map[Field][]string{}
	Walk(e, func(t *Term) bool {
		if catalogued(t.Field) {
			wanted[t.Field] = append(wanted[t.Field], t.Name)
		}
		return true
	})
	cat := MapCatalog{}
	for f, names := range wanted {
		qs := catalogQueries[f]
		ph := make([]string, len(names))
		args := make([]any, len(names))
		for i, n := range names {
			ph[i], args[i] = "$"+strconv.Itoa(i+1), n
		}
		if err := loadNames(ctx, q, cat, f, fmt.Sprintf(qs.exist, strings.Join(ph, ", ")), args...); err != nil {
			return nil, err
		}
		for _, n := range names {
			if !cat.Has(f, n) {
				if err := loadNames(ctx, q, cat, f, qs.all+" LIMIT "+strconv.Itoa(maxSuggestNames)); err != nil {
					return nil, err
				}
				break
			}
		}
	}
	return cat, nil
}

func loadNames(ctx context.Context, q store.Querier, cat MapCatalog, f Field, query string, args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("segment: load %s names: %w", f, err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return fmt.Errorf("segment: load %s names: %w", f, err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("segment: load %s names: %w", f, err)
	}
	cat.Add(f, names...)
	return nil
}
