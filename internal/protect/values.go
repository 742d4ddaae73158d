package protect

import (
	"context"
	"fmt"
	"time"

	"github.com/kith-scrm/kith/internal/fieldcrypt"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
)

// Owner names what protected values belong to: a customer, an order, …
type Owner struct {
	Kind string // "customer", "order", …
	ID   string // its id within that kind
}

// Value is one stored protected value of an owner.
type Value struct {
	Field string
	Sealed
}

// checkSealed refuses anything that is not what Seal made: plaintext never
// reaches a protected column (P-42), even through a caller's mistake.
func checkSealed(field string, s Sealed) error {
	id := fieldcrypt.SealedWith(s.Value)
	switch {
	case id == "" || id != s.KeyID:
		return kith.Errorf(kith.EINVALID, "a %s value is not sealed (use Protector.Seal); it was not stored", field)
	case len(s.Index) != 64:
		return kith.Errorf(kith.EINVALID, "a %s value has no blind index; it was not stored", field)
	case s.Masked == "":
		return kith.Errorf(kith.EINVALID, "a %s value has no masked form; it was not stored", field)
	}
	return nil
}

// PutValues makes values the owner's values of field, replacing those it
// had; values with the same index are stored once. Write it in the
// transaction of the change that brings the values.
func PutValues(ctx context.Context, q store.Querier, owner Owner, field string, values []Sealed, now time.Time) error {
	if !Known(field) {
		return kith.Errorf(kith.EINVALID, "%q is not a protected field", field)
	}
	for _, v := range values {
		if err := checkSealed(field, v); err != nil {
			return err
		}
	}
	if _, err := q.ExecContext(ctx, "DELETE FROM protected_values WHERE owner_kind = $1 AND owner_id = $2 AND field = $3", owner.Kind, owner.ID, field); err != nil {
		return fmt.Errorf("protect: clear %s of %s %s: %w", field, owner.Kind, owner.ID, err)
	}
	seen := map[string]bool{}
	for _, v := range values {
		if seen[v.Index] {
			continue
		}
		seen[v.Index] = true
		_, err := q.ExecContext(ctx, `INSERT INTO protected_values (owner_kind, owner_id, field, value_index, sealed, key_id, masked, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, owner.Kind, owner.ID, field, v.Index, v.Value, v.KeyID, v.Masked, now)
		if err != nil {
			return fmt.Errorf("protect: store %s of %s %s: %w", field, owner.Kind, owner.ID, err)
		}
	}
	return nil
}

// Values returns the owner's protected values, by field and then index.
func Values(ctx context.Context, q store.Querier, owner Owner) ([]Value, error) {
	rows, err := q.QueryContext(ctx, `SELECT field, value_index, sealed, key_id, masked FROM protected_values
		WHERE owner_kind = $1 AND owner_id = $2 ORDER BY field, value_index`, owner.Kind, owner.ID)
	if err != nil {
		return nil, fmt.Errorf("protect: values of %s %s: %w", owner.Kind, owner.ID, err)
	}
	defer rows.Close()
	var out []Value
	for rows.Next() {
		var v Value
		if err := rows.Scan(&v.Field, &v.Index, &v.Value, &v.KeyID, &v.Masked); err != nil {
			return nil, fmt.Errorf("protect: values of %s %s: %w", owner.Kind, owner.ID, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// FindOwners returns the ids of the owners of kind that have a value of
// field with the given blind index (Protector.Index): look-ups and
// duplicates without plaintext.
func FindOwners(ctx context.Context, q store.Querier, kind, field, index string) ([]string, error) {
	if index == "" {
		return nil, nil
	}
	rows, err := q.QueryContext(ctx, `SELECT owner_id FROM protected_values WHERE field = $1 AND value_index = $2 AND owner_kind = $3
		ORDER BY owner_id`, field, index, kind)
	if err != nil {
		return nil, fmt.Errorf("protect: find %s by %s: %w", kind, field, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("protect: find %s by %s: %w", kind, field, err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// DeleteOwner removes every protected value of the owner (its erasure) and
// returns how many it removed.
func DeleteOwner(ctx context.Context, q store.Querier, owner Owner) (int64, error) {
	res, err := q.ExecContext(ctx, "DELETE FROM protected_values WHERE owner_kind = $1 AND owner_id = $2", owner.Kind, owner.ID)
	if err != nil {
		return 0, fmt.Errorf("protect: erase values of %s %s: %w", owner.Kind, owner.ID, err)
	}
	return res.RowsAffected()
}
