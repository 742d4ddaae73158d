package orders

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/kith-scrm/kith/internal/protect"
)

// StoredOrder is an order as the customer page shows it: protected fields
// masked.
type StoredOrder struct {
	ID          int64
	Shop        string
	OrderNo     string
	Source      string
	Status      Status
	TotalFen    int64
	RefundFen   int64
	OrderedAt   time.Time
	PaidAt      time.Time
	ShippedAt   time.Time
	CompletedAt time.Time
	PhoneMasked string // 138****1234, or ""
	District    string // the address masked after its province and city (protect.MaskAddress), or ""
	LinkedBy    string
	Items       []Item
}

// StoredPayment is a payment as the customer page shows it.
type StoredPayment struct {
	Source        string
	TransactionID string
	MemberUserID  string
	AmountFen     int64
	RefundedFen   int64
	PaidAt        time.Time
	Description   string
}

// OrdersOf returns a customer's latest orders, newest first, at most limit.
func (s *Store) OrdersOf(ctx context.Context, customerID int64, limit int) ([]StoredOrder, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT id, shop, order_no, source, status, total_fen, refund_fen, ordered_at, paid_at, shipped_at,
		completed_at, phone_sealed, address_sealed, linked_by FROM orders WHERE customer_id = $1 ORDER BY ordered_at DESC, id DESC LIMIT $2`, customerID, limit)
	if err != nil {
		return nil, fmt.Errorf("orders: list orders: %w", err)
	}
	defer rows.Close()
	var out []StoredOrder
	for rows.Next() {
		var o StoredOrder
		var paid, shipped, completed sql.NullTime
		var phone, addr string
		if err := rows.Scan(&o.ID, &o.Shop, &o.OrderNo, &o.Source, &o.Status, &o.TotalFen, &o.RefundFen, &o.OrderedAt, &paid, &shipped,
			&completed, &phone, &addr, &o.LinkedBy); err != nil {
			return nil, err
		}
		o.PaidAt, o.ShippedAt, o.CompletedAt = paid.Time, shipped.Time, completed.Time
		if phone != "" {
			if v, err := s.p.Open(protect.FieldPhone, protect.Sealed{Value: phone}); err == nil {
				o.PhoneMasked = protect.MaskPhone(v)
			}
		}
		if addr != "" {
			if v, err := s.p.Open(FieldAddress, protect.Sealed{Value: addr}); err == nil {
				o.District = protect.MaskAddress(v)
			}
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		items, err := s.items(ctx, out[i].ID)
		if err != nil {
			return nil, err
		}
		out[i].Items = items
	}
	return out, nil
}

func (s *Store) items(ctx context.Context, orderID int64) ([]Item, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT sku, title, quantity, price_fen FROM order_items WHERE order_id = $1 ORDER BY line`, orderID)
	if err != nil {
		return nil, fmt.Errorf("orders: list items: %w", err)
	}
	defer rows.Close()
	var out []Item
	for rows.Next() {
		var it Item
		if err := rows.Scan(&it.SKU, &it.Title, &it.Quantity, &it.PriceFen); err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// PaymentsOf returns a customer's latest payments, newest first.
func (s *Store) PaymentsOf(ctx context.Context, customerID int64, limit int) ([]StoredPayment, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT source, transaction_id, member_userid, amount_fen, refunded_fen, paid_at, description
		FROM payments WHERE customer_id = $1 ORDER BY paid_at DESC, id DESC LIMIT $2`, customerID, limit)
	if err != nil {
		return nil, fmt.Errorf("orders: list payments: %w", err)
	}
	defer rows.Close()
	var out []StoredPayment
	for rows.Next() {
		var p StoredPayment
		if err := rows.Scan(&p.Source, &p.TransactionID, &p.MemberUserID, &p.AmountFen, &p.RefundedFen, &p.PaidAt, &p.Description); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
