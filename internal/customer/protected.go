package customer

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/kith-scrm/kith/internal/protect"
)

// OwnerKind is the owner kind of a customer's protected values in
// protect's protected_values table.
const OwnerKind = "customer"

func owner(customerID int64) protect.Owner {
	return protect.Owner{Kind: OwnerKind, ID: strconv.FormatInt(customerID, 10)}
}

// SetProtected makes values (sealed by protect.Protector.Seal) the
// customer's e-mail addresses, postal addresses or phone numbers of their
// own (field protect.FieldEmail, FieldAddress or FieldPhone), replacing
// those of that field. Phone numbers members noted on a relation stay in
// ApplyFollow's Phones.
func SetProtected(ctx context.Context, q Querier, customerID int64, field string, values []protect.Sealed, now time.Time) error {
	if err := protect.PutValues(ctx, q, owner(customerID), field, values, now); err != nil {
		return fmt.Errorf("customer: %w", err)
	}
	return nil
}

// Protected returns the customer's protected values, sealed: open one
// with protect.Protector.Open only to reveal it, and audit that.
func Protected(ctx context.Context, q Querier, customerID int64) ([]protect.Value, error) {
	v, err := protect.Values(ctx, q, owner(customerID))
	if err != nil {
		return nil, fmt.Errorf("customer: %w", err)
	}
	return v, nil
}

// FindByProtected returns the ids of the customers with a value of field
// whose blind index (protect.Protector.Index) is index: look-ups and
// duplicate checks without plaintext. Phone numbers noted on relations
// count too.
func FindByProtected(ctx context.Context, q Querier, field, index string) ([]int64, error) {
	owners, err := protect.FindOwners(ctx, q, OwnerKind, field, index)
	if err != nil {
		return nil, fmt.Errorf("customer: %w", err)
	}
	seen := map[int64]bool{}
	var ids []int64
	for _, o := range owners {
		if id, err := strconv.ParseInt(o, 10, 64); err == nil && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if field == protect.FieldPhone && index != "" {
		rows, err := q.QueryContext(ctx, "SELECT DISTINCT customer_id FROM customer_phones WHERE phone_index = $1", index)
		if err != nil {
			return nil, fmt.Errorf("customer: find by phone: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return nil, fmt.Errorf("customer: find by phone: %w", err)
			}
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("customer: find by phone: %w", err)
		}
	}
	slices.Sort(ids)
	return ids, nil
}
