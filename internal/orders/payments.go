package orders

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
)

// Payment is money a customer paid outside the shops: a WeCom external
// payment (对外收款), attached to the payer and the member who collected it.
type Payment struct {
	Source         string // "wecom"
	TransactionID  string // unique within the source
	ExternalUserID string // the payer, when WeCom names one
	MemberUserID   string // the member who collected it
	AmountFen      int64
	RefundedFen    int64
	PaidAt         time.Time
	Description    string // what was paid for (the commodity lines)
	OutTradeNo     string // the merchant's payment number, which refunds name
}

// Validate checks a payment and returns an EINVALID error naming what is
// wrong.
func (p *Payment) Validate() error {
	switch {
	case p.Source == "" || p.TransactionID == "":
		return kith.Errorf(kith.EINVALID, "a payment needs a source and a transaction id")
	case len(p.TransactionID) > maxText || len(p.ExternalUserID) > maxText || len(p.MemberUserID) > maxText:
		return kith.Errorf(kith.EINVALID, "payment %s: an id is longer than %d bytes", p.TransactionID, maxText)
	case p.AmountFen < 0 || p.AmountFen > MaxAmountFen:
		return kith.Errorf(kith.EINVALID, "payment %s: amount %d fen is not from 0 to %d yuan", p.TransactionID, p.AmountFen, MaxAmountFen/100)
	case p.RefundedFen < 0 || p.RefundedFen > p.AmountFen:
		return kith.Errorf(kith.EINVALID, "payment %s: refunded %d fen is not from 0 to the amount", p.TransactionID, p.RefundedFen)
	case p.PaidAt.IsZero():
		return kith.Errorf(kith.EINVALID, "payment %s: the payment time is missing", p.TransactionID)
	}
	if len(p.Description) > maxAddress {
		p.Description = p.Description[:maxAddress]
		p.Description = strings.ToValidUTF8(p.Description, "")
	}
	return nil
}

// PutPayment writes a payment, attached to the customer its external_userid
// names: inserted when new, updated when its refund changed, else left.
func (w *Writer) PutPayment(ctx context.Context, p *Payment) (Outcome, error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	var customerID int64
	if p.ExternalUserID != "" {
		err := w.q.QueryRowContext(ctx, `SELECT id FROM customers WHERE external_userid = $1`, p.ExternalUserID).Scan(&customerID)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("orders: find payer: %w", err)
		}
	}
	var id int64
	err := w.q.QueryRowContext(ctx, `INSERT INTO payments (source, transaction_id, external_userid, customer_id, member_userid, amount_fen,
		refunded_fen, paid_at, description, out_trade_no, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
		ON CONFLICT (source, transaction_id) DO NOTHING RETURNING id`,
		p.Source, p.TransactionID, p.ExternalUserID, nullID(customerID), p.MemberUserID, p.AmountFen, p.RefundedFen, p.PaidAt.UTC(), p.Description,
		p.OutTradeNo, w.now).Scan(&id)
	if err == nil {
		if err := w.applyRefunds(ctx, p.Source, p.OutTradeNo); err != nil {
			return 0, err
		}
		w.touch(customerID)
		return Inserted, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("orders: insert payment %s: %w", p.TransactionID, err)
	}
	var amount, refunded int64
	var cust sql.NullInt64
	if err := w.q.QueryRowContext(ctx, `SELECT id, amount_fen, refunded_fen, customer_id FROM payments WHERE source = $1 AND transaction_id = $2`,
		p.Source, p.TransactionID).Scan(&id, &amount, &refunded, &cust); err != nil {
		return 0, fmt.Errorf("orders: read payment %s: %w", p.TransactionID, err)
	}
	// Refunds only grow: a later listing or refund record never lowers it.
	newRefund := max(refunded, p.RefundedFen)
	switch {
	case amount != p.AmountFen:
		return Conflict, nil
	case refunded == newRefund && (cust.Valid || customerID == 0):
		return Unchanged, nil
	}
	if _, err := w.q.ExecContext(ctx, `UPDATE payments SET refunded_fen = $1, customer_id = COALESCE(customer_id, $2), updated_at = $3 WHERE id = $4`,
		newRefund, nullID(customerID), w.now, id); err != nil {
		return 0, fmt.Errorf("orders: update payment %s: %w", p.TransactionID, err)
	}
	w.touch(cust.Int64)
	w.touch(customerID)
	return Updated, nil
}

// Refund is a refund of a payment, as its own record.
type Refund struct {
	Source     string
	RefundNo   string // unique within the source
	OutTradeNo string // the payment refunded
	AmountFen  int64
	RefundedAt time.Time
}

// PutRefund records a refund once and raises its payment's refunded
// amount to at least the sum of its refunds (the payment may come later:
// then PutPayment applies it).
func (w *Writer) PutRefund(ctx context.Context, r *Refund) (Outcome, error) {
	if r.Source == "" || r.RefundNo == "" || r.OutTradeNo == "" || len(r.RefundNo) > maxText || len(r.OutTradeNo) > maxText {
		return 0, kith.Errorf(kith.EINVALID, "a refund needs a source, a refund number and the payment's number")
	}
	if r.AmountFen < 0 || r.AmountFen > MaxAmountFen || r.RefundedAt.IsZero() {
		return 0, kith.Errorf(kith.EINVALID, "refund %s: the amount or time is wrong", r.RefundNo)
	}
	res, err := w.q.ExecContext(ctx, `INSERT INTO payment_refunds (source, refund_no, out_trade_no, refund_fen, refunded_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (source, refund_no) DO NOTHING`, r.Source, r.RefundNo, r.OutTradeNo, r.AmountFen, r.RefundedAt.UTC())
	if err != nil {
		return 0, fmt.Errorf("orders: insert refund %s: %w", r.RefundNo, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return Unchanged, nil
	}
	return Inserted, w.applyRefunds(ctx, r.Source, r.OutTradeNo)
}

// applyRefunds raises a payment's refunded amount to the sum of its
// refund records, at most its amount.
func (w *Writer) applyRefunds(ctx context.Context, source, outTradeNo string) error {
	if outTradeNo == "" {
		return nil
	}
	var sum int64
	if err := w.q.QueryRowContext(ctx, `SELECT COALESCE(SUM(refund_fen), 0) FROM payment_refunds WHERE source = $1 AND out_trade_no = $2`,
		source, outTradeNo).Scan(&sum); err != nil {
		return fmt.Errorf("orders: sum refunds: %w", err)
	}
	if sum == 0 {
		return nil
	}
	rows, err := w.q.QueryContext(ctx, `SELECT id, amount_fen, refunded_fen, customer_id FROM payments WHERE source = $1 AND out_trade_no = $2`, source, outTradeNo)
	if err != nil {
		return fmt.Errorf("orders: find refunded payment: %w", err)
	}
	type pay struct {
		id, amount, refunded int64
		cust                 sql.NullInt64
	}
	var ps []pay
	for rows.Next() {
		var p pay
		if err := rows.Scan(&p.id, &p.amount, &p.refunded, &p.cust); err != nil {
			rows.Close()
			return err
		}
		ps = append(ps, p)
	}
	rows.Close()
	for _, p := range ps {
		if r := min(sum, p.amount); r > p.refunded {
			if _, err := w.q.ExecContext(ctx, `UPDATE payments SET refunded_fen = $1, updated_at = $2 WHERE id = $3`, r, w.now, p.id); err != nil {
				return fmt.Errorf("orders: apply refund: %w", err)
			}
			w.touch(p.cust.Int64)
		}
	}
	return nil
}

// Cursor returns where the incremental pull name stopped ("" before the
// first).
func (s *Store) Cursor(ctx context.Context, name string) (string, error) {
	var c string
	err := s.db.R.QueryRowContext(ctx, `SELECT cursor FROM order_cursors WHERE name = $1`, name).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("orders: read cursor %s: %w", name, err)
	}
	return c, nil
}

// SetCursor records, in the writer's transaction, where the incremental
// pull name stopped, so the cursor moves only with the rows it covers.
func (w *Writer) SetCursor(ctx context.Context, name, cursor string) error {
	if _, err := w.q.ExecContext(ctx, `INSERT INTO order_cursors (name, cursor, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`, name, cursor, w.now); err != nil {
		return fmt.Errorf("orders: set cursor %s: %w", name, err)
	}
	return nil
}
