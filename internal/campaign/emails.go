package campaign

import (
	"context"
	"fmt"
	"strconv"

	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/store"
)

// EmailAddresser answers for e-mail with the customer's first e-mail
// address (the oldest one kept in protected_values, opened with Opener);
// for other channels it asks Next (a PhoneAddresser, say).
type EmailAddresser struct {
	DB     *store.DB
	Opener Opener
	Next   Addresser
}

// Addresses implements Addresser.
func (a *EmailAddresser) Addresses(ctx context.Context, ch Channel, customers []int64) (map[int64]Recipient, error) {
	if ch != Email {
		if a.Next == nil {
			return (&DBAddresser{DB: a.DB}).Addresses(ctx, ch, customers)
		}
		return a.Next.Addresses(ctx, ch, customers)
	}
	out := make(map[int64]Recipient, len(customers))
	// The ids go as one parameter per addressChunk (idSource): thousands
	// of numbered parameters are slow to bind on SQLite. owner_id is text,
	// so they go as text.
	for start := 0; start < len(customers); start += addressChunk {
		part := customers[start:min(start+addressChunk, len(customers))]
		rows, err := a.DB.R.QueryContext(ctx, `SELECT owner_id, sealed, value_index, key_id FROM protected_values
			WHERE owner_kind = $1 AND field = $2 AND owner_id IN `+idTextSource(a.DB.Dialect, 3)+` ORDER BY owner_id, created_at, value_index`,
			"customer", protect.FieldEmail, idTextArg(a.DB.Dialect, part))
		if err != nil {
			return nil, fmt.Errorf("campaign: e-mail addresses: %w", err)
		}
		for rows.Next() {
			var owner string
			var s protect.Sealed
			if err := rows.Scan(&owner, &s.Value, &s.Index, &s.KeyID); err != nil {
				rows.Close()
				return nil, fmt.Errorf("campaign: e-mail addresses: %w", err)
			}
			id, err := strconv.ParseInt(owner, 10, 64)
			if err != nil {
				continue
			}
			if _, seen := out[id]; seen {
				continue
			}
			addr, err := a.Opener.Open(protect.FieldEmail, s)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("campaign: open the e-mail address of customer %d: %w", id, err)
			}
			out[id] = Recipient{CustomerID: id, Person: consent.Email(addr)}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
