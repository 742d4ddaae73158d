package orders

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/kith-scrm/kith/internal/audit"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/store"
)

// Identity is a buyer account in one shop and the customer it is linked to.
type Identity struct {
	ID         int64
	Shop       string
	Account    string // opened; "" when the store was asked for it masked
	CustomerID int64  // 0: not linked
	LinkedBy   string // phone, unionid, external_userid, manual, or ""
	LinkedAt   time.Time
	Orders     int
}

// Identities lists the shop identities linked to a customer, accounts
// opened (callers show them to those allowed to see buyer accounts).
func (s *Store) Identities(ctx context.Context, customerID int64) ([]Identity, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT i.id, i.shop, i.account_sealed, i.key_id, i.linked_by, i.linked_at,
		(SELECT count(*) FROM orders o WHERE o.identity_id = i.id)
		FROM shop_identities i WHERE i.customer_id = $1 ORDER BY i.id`, customerID)
	if err != nil {
		return nil, fmt.Errorf("orders: list identities: %w", err)
	}
	defer rows.Close()
	var out []Identity
	for rows.Next() {
		var id Identity
		var sealed, keyID string
		var at sql.NullTime
		if err := rows.Scan(&id.ID, &id.Shop, &sealed, &keyID, &id.LinkedBy, &at, &id.Orders); err != nil {
			return nil, err
		}
		id.CustomerID = customerID
		id.LinkedAt = at.Time
		acc, err := s.openAccount(id.Shop, sealed)
		if err != nil {
			return nil, err
		}
		id.Account = acc
		out = append(out, id)
	}
	return out, rows.Err()
}

// FindIdentity returns the identity of a buyer account in a shop, or an
// ENOTFOUND error.
func (s *Store) FindIdentity(ctx context.Context, shop, account string) (Identity, error) {
	idx := s.p.Index(FieldShopAccount, shop+"\x00"+account)
	var id Identity
	var cust sql.NullInt64
	var at sql.NullTime
	err := s.db.R.QueryRowContext(ctx, `SELECT id, customer_id, linked_by, linked_at, (SELECT count(*) FROM orders o WHERE o.identity_id = i.id)
		FROM shop_identities i WHERE shop = $1 AND account_index = $2`, shop, idx).Scan(&id.ID, &cust, &id.LinkedBy, &at, &id.Orders)
	if errors.Is(err, sql.ErrNoRows) {
		return Identity{}, kith.Errorf(kith.ENOTFOUND, "no buyer account %q in shop %q", account, shop)
	}
	if err != nil {
		return Identity{}, fmt.Errorf("orders: find identity: %w", err)
	}
	id.Shop, id.Account, id.CustomerID, id.LinkedAt = shop, account, cust.Int64, at.Time
	return id, nil
}

func (s *Store) openAccount(shop, sealed string) (string, error) {
	v, err := s.p.Open(FieldShopAccount, sealedValue(sealed))
	if err != nil {
		return "", err
	}
	if len(v) > len(shop) && v[:len(shop)+1] == shop+"\x00" {
		return v[len(shop)+1:], nil
	}
	return v, nil
}

// Link attaches a shop identity and its orders to the customer with an
// external_userid, on an explicit request by actor for a reason (a
// customer who told their order number in a chat). It is recorded in the
// audit log in the same transaction. Linking an identity linked to another
// customer moves it; both customers' facts are recomputed.
func (s *Store) Link(ctx context.Context, identityID int64, externalUserID string, actor audit.Actor, reason string, log *audit.Log) error {
	if reason == "" {
		return kith.Errorf(kith.EINVALID, "say why the buyer account is linked to this customer")
	}
	return s.relink(ctx, identityID, externalUserID, actor, reason, log)
}

// Unlink detaches a shop identity and its orders from its customer, on an
// explicit, audited request, and recomputes the customer's facts. The
// identity stays unlinked until linked by hand again: later orders of the
// same account do not link it back by phone.
func (s *Store) Unlink(ctx context.Context, identityID int64, actor audit.Actor, reason string, log *audit.Log) error {
	if reason == "" {
		return kith.Errorf(kith.EINVALID, "say why the buyer account is unlinked")
	}
	return s.relink(ctx, identityID, "", actor, reason, log)
}

func (s *Store) relink(ctx context.Context, identityID int64, externalUserID string, actor audit.Actor, reason string, log *audit.Log) error {
	now := s.clock.Now()
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		var old sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT customer_id FROM shop_identities WHERE id = $1`, identityID).Scan(&old)
		if errors.Is(err, sql.ErrNoRows) {
			return kith.Errorf(kith.ENOTFOUND, "no shop identity %d", identityID)
		}
		if err != nil {
			return fmt.Errorf("orders: read identity %d: %w", identityID, err)
		}
		var to int64
		action, how := "orders.identity.unlink", "manual_unlinked"
		if externalUserID != "" {
			action, how = "orders.identity.link", "manual"
			err := tx.QueryRowContext(ctx, `SELECT id FROM customers WHERE external_userid = $1`, externalUserID).Scan(&to)
			if errors.Is(err, sql.ErrNoRows) {
				return kith.Errorf(kith.ENOTFOUND, "no customer %q", externalUserID)
			}
			if err != nil {
				return fmt.Errorf("orders: find customer: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE shop_identities SET customer_id = $1, linked_by = $2, linked_at = $3 WHERE id = $4`,
			nullID(to), how, now, identityID); err != nil {
			return fmt.Errorf("orders: relink identity: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE orders SET customer_id = $1, linked_by = $2 WHERE identity_id = $3`,
			nullID(to), map[bool]string{true: "identity", false: ""}[to != 0], identityID); err != nil {
			return fmt.Errorf("orders: relink orders: %w", err)
		}
		for _, c := range []int64{old.Int64, to} {
			if c != 0 {
				if err := recompute(ctx, tx, c, now, s.location(), true); err != nil {
					return err
				}
			}
		}
		detail, _ := json.Marshal(map[string]any{"identity": identityID, "from_customer": old.Int64, "to_customer": to})
		person := externalUserID
		if person == "" && old.Valid {
			_ = tx.QueryRowContext(ctx, `SELECT external_userid FROM customers WHERE id = $1`, old.Int64).Scan(&person)
		}
		return log.Append(ctx, tx, audit.Entry{Actor: actor, Action: action, ObjectType: "shop_identity",
			ObjectID: strconv.FormatInt(identityID, 10), Person: person, Purpose: reason, Outcome: audit.OutcomeOK, Detail: string(detail)})
	})
}

var _ store.Querier = (*sql.Tx)(nil)

func sealedValue(v string) protect.Sealed { return protect.Sealed{Value: v} }
