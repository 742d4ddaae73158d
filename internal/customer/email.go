package customer

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/protect"
)

// Sources of a customer's e-mail address.
const (
	EmailFromConsole = "console" // an operator added it on the customer page
	EmailFromImport  = "import"  // an order file's buyer e-mail column
	EmailFromWebhook = "webhook" // an order pushed by a shop or ERP
	EmailFromAPI     = "api"     // POST /api/v1/customers/{id}/emails
)

// EmailSources are the sources AddEmail accepts.
var EmailSources = []string{EmailFromConsole, EmailFromImport, EmailFromWebhook, EmailFromAPI}

// MaxEmails bounds how many e-mail addresses one customer may have.
const MaxEmails = 10

// Email is one of a customer's e-mail addresses, sealed: Masked is shown,
// the plaintext only through Protector.Open for a reveal (audited) or a
// send.
type Email struct {
	protect.Sealed
	Source    string
	AddedBy   string
	CreatedAt time.Time
}

// Sealer seals a value of a protected field (a *protect.Protector).
type Sealer interface {
	Seal(field, value string) (protect.Sealed, error)
}

// AddEmail adds addr to the customer's e-mail addresses (sealed, with its
// blind index and masked form), recording its source and who added it. It
// returns the stored address; an address the customer has already is an
// ECONFLICT error, a malformed one EINVALID, and the eleventh one
// EINVALID.
func AddEmail(ctx context.Context, q Querier, s Sealer, customerID int64, addr, source, by string, now time.Time) (Email, error) {
	norm, err := protect.NormalizeEmail(addr)
	if err != nil {
		return Email{}, err
	}
	known := false
	for _, src := range EmailSources {
		known = known || src == source
	}
	if !known {
		return Email{}, kith.Errorf(kith.EINVALID, "customer: e-mail source %q is not one of console, import, webhook, api", source)
	}
	sealed, err := s.Seal(protect.FieldEmail, norm)
	if err != nil {
		return Email{}, fmt.Errorf("customer: seal an e-mail address: %w", err)
	}
	have, err := Emails(ctx, q, customerID)
	if err != nil {
		return Email{}, err
	}
	for _, e := range have {
		if e.Index == sealed.Index {
			return e, kith.Errorf(kith.ECONFLICT, "The customer has this e-mail address already.")
		}
	}
	if len(have) >= MaxEmails {
		return Email{}, kith.Errorf(kith.EINVALID, "A customer has at most %d e-mail addresses; remove one first.", MaxEmails)
	}
	if _, err := q.ExecContext(ctx, `INSERT INTO protected_values (owner_kind, owner_id, field, value_index, sealed, key_id, masked, created_at, source, added_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, OwnerKind, strconv.FormatInt(customerID, 10), protect.FieldEmail,
		sealed.Index, sealed.Value, sealed.KeyID, sealed.Masked, now.UTC(), source, by); err != nil {
		return Email{}, fmt.Errorf("customer: store an e-mail address: %w", err)
	}
	return Email{Sealed: sealed, Source: source, AddedBy: by, CreatedAt: now.UTC()}, nil
}

// RemoveEmail removes the customer's e-mail address with the blind index
// given; ENOTFOUND when the customer has none such.
func RemoveEmail(ctx context.Context, q Querier, customerID int64, index string) error {
	res, err := q.ExecContext(ctx, "DELETE FROM protected_values WHERE owner_kind = $1 AND owner_id = $2 AND field = $3 AND value_index = $4",
		OwnerKind, strconv.FormatInt(customerID, 10), protect.FieldEmail, index)
	if err != nil {
		return fmt.Errorf("customer: remove an e-mail address: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return kith.Errorf(kith.ENOTFOUND, "The customer has no such e-mail address.")
	}
	return nil
}

// Emails returns the customer's e-mail addresses, oldest first.
func Emails(ctx context.Context, q Querier, customerID int64) ([]Email, error) {
	rows, err := q.QueryContext(ctx, `SELECT value_index, sealed, key_id, masked, source, added_by, created_at FROM protected_values
		WHERE owner_kind = $1 AND owner_id = $2 AND field = $3 ORDER BY created_at, value_index`,
		OwnerKind, strconv.FormatInt(customerID, 10), protect.FieldEmail)
	if err != nil {
		return nil, fmt.Errorf("customer: e-mail addresses: %w", err)
	}
	defer rows.Close()
	var out []Email
	for rows.Next() {
		var e Email
		if err := rows.Scan(&e.Index, &e.Value, &e.KeyID, &e.Masked, &e.Source, &e.AddedBy, &e.CreatedAt); err != nil {
			return nil, fmt.Errorf("customer: e-mail addresses: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
