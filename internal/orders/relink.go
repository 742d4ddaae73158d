package orders

import (
	"context"
	"fmt"
)

// LinkPending joins orders that joined nobody when they came in to the
// customers that have appeared since: through the unionid (one customer
// only) or a plain mobile that exactly one customer's protected phones
// hold, never for a shop identity unlinked by hand. Their shop identities
// are linked too, and the customers' facts recomputed. It returns how many
// orders it joined; the daily job runs it before moving the windows on.
func (s *Store) LinkPending(ctx context.Context) (int, error) {
	type match struct {
		orderID, identityID, customerID int64
		how                             string
	}
	rows, err := s.db.R.QueryContext(ctx, `
		SELECT o.id, COALESCE(o.identity_id, 0), p.customer_id, 'phone' FROM orders o
		JOIN (SELECT phone_index, MIN(customer_id) AS customer_id FROM customer_phones GROUP BY phone_index
		      HAVING COUNT(DISTINCT customer_id) = 1) p ON p.phone_index = o.phone_index
		LEFT JOIN shop_identities i ON i.id = o.identity_id
		WHERE o.customer_id IS NULL AND o.phone_index <> '' AND COALESCE(i.linked_by, '') <> 'manual_unlinked'
		UNION ALL
		SELECT o.id, COALESCE(o.identity_id, 0), MIN(c.id), 'unionid' FROM orders o
		JOIN customers c ON c.unionid = o.buyer_unionid
		LEFT JOIN shop_identities i ON i.id = o.identity_id
		WHERE o.customer_id IS NULL AND o.buyer_unionid <> '' AND COALESCE(i.linked_by, '') <> 'manual_unlinked'
		GROUP BY o.id, o.identity_id HAVING COUNT(c.id) = 1`)
	if err != nil {
		return 0, fmt.Errorf("orders: find pending links: %w", err)
	}
	var ms []match
	for rows.Next() {
		var m match
		if err := rows.Scan(&m.orderID, &m.identityID, &m.customerID, &m.how); err != nil {
			rows.Close()
			return 0, err
		}
		ms = append(ms, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	linked, err := s.linkPayments(ctx)
	if err != nil {
		return linked, err
	}
	for len(ms) > 0 {
		n := min(len(ms), 500)
		batch := ms[:n]
		ms = ms[n:]
		err := s.Write(ctx, func(w *Writer) error {
			for _, m := range batch {
				res, err := w.q.ExecContext(ctx, `UPDATE orders SET customer_id = $1, linked_by = $2 WHERE id = $3 AND customer_id IS NULL`,
					m.customerID, m.how, m.orderID)
				if err != nil {
					return fmt.Errorf("orders: link order %d: %w", m.orderID, err)
				}
				if k, _ := res.RowsAffected(); k == 0 {
					continue // linked meanwhile, through its identity
				}
				linked++
				w.touch(m.customerID)
				if m.identityID != 0 {
					var cust *int64
					if err := w.q.QueryRowContext(ctx, `SELECT customer_id FROM shop_identities WHERE id = $1`, m.identityID).Scan(&cust); err != nil {
						return err
					}
					if cust == nil {
						if err := w.linkIdentity(ctx, m.identityID, m.customerID, m.how); err != nil {
							return err
						}
					}
				}
			}
			return nil
		})
		if err != nil {
			return linked, err
		}
	}
	return linked, nil
}

// linkPayments attaches payments whose payer arrived after them.
func (s *Store) linkPayments(ctx context.Context) (int, error) {
	n := 0
	err := s.Write(ctx, func(w *Writer) error {
		rows, err := w.q.QueryContext(ctx, `SELECT p.id, c.id FROM payments p JOIN customers c ON c.external_userid = p.external_userid
			WHERE p.customer_id IS NULL AND p.external_userid <> ''`)
		if err != nil {
			return fmt.Errorf("orders: find pending payments: %w", err)
		}
		var pairs [][2]int64
		for rows.Next() {
			var p [2]int64
			if err := rows.Scan(&p[0], &p[1]); err != nil {
				rows.Close()
				return err
			}
			pairs = append(pairs, p)
		}
		rows.Close()
		for _, p := range pairs {
			if _, err := w.q.ExecContext(ctx, `UPDATE payments SET customer_id = $1 WHERE id = $2`, p[1], p[0]); err != nil {
				return fmt.Errorf("orders: link payment: %w", err)
			}
			w.touch(p[1])
			n++
		}
		return nil
	})
	return n, err
}
