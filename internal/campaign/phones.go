package campaign

import (
	"context"
	"fmt"

	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/store"
)

// Opener opens sealed values (a *protect.Protector).
type Opener interface {
	Open(field string, s protect.Sealed) (string, error)
}

// PhoneAddresser answers for SMS with the customer's first phone number
// (by blind index, so the same one every time), opened with Opener; for
// WeCom it asks DBAddresser. E-mail has no addresses yet.
type PhoneAddresser struct {
	DB     *store.DB
	Opener Opener
}

// Addresses implements Addresser.
func (a *PhoneAddresser) Addresses(ctx context.Context, ch Channel, customers []int64) (map[int64]Recipient, error) {
	if ch != SMS {
		return (&DBAddresser{DB: a.DB}).Addresses(ctx, ch, customers)
	}
	out := make(map[int64]Recipient, len(customers))
	// The ids go as one parameter per addressChunk (idSource).
	for start := 0; start < len(customers); start += addressChunk {
		part := customers[start:min(start+addressChunk, len(customers))]
		rows, err := a.DB.R.QueryContext(ctx, `SELECT p.customer_id, p.phone_sealed, p.phone_index, p.key_id FROM customer_phones p
			JOIN follows f ON f.customer_id = p.customer_id AND f.member_userid = p.member_userid AND f.status = 'active'
			WHERE p.customer_id IN `+idSource(a.DB.Dialect, 1)+` ORDER BY p.customer_id, p.phone_index`, idArg(a.DB.Dialect, part))
		if err != nil {
			return nil, fmt.Errorf("campaign: phone numbers: %w", err)
		}
		for rows.Next() {
			var id int64
			var s protect.Sealed
			if err := rows.Scan(&id, &s.Value, &s.Index, &s.KeyID); err != nil {
				rows.Close()
				return nil, err
			}
			if _, seen := out[id]; seen {
				continue
			}
			number, err := a.Opener.Open(protect.FieldPhone, s)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("campaign: open the phone number of customer %d: %w", id, err)
			}
			out[id] = Recipient{CustomerID: id, Person: consent.Phone(number)}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
