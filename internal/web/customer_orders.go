package web

import (
	"context"

	"github.com/kith-scrm/kith/internal/orders"
)

// ordersSection is the customer page's timeline of orders and payments
// (issue 8): what the customer bought, when and for how much, protected
// fields masked.
type ordersSection struct {
	Facts    factsView
	Orders   []orderRow
	Payments []paymentRow
	Accounts []orders.Identity // shop accounts linked to the customer, masked
	// CanLink shows the forms that link and unlink buyer accounts
	// (customer_identities.go); Fault is a refused one.
	CanLink bool
	Fault   *identityFault
	Shops   []string // the shops buyer accounts are known in, offered by the link form
}

// factsView, orderRow and paymentRow add amounts in yuan for the template.
type factsView struct{ orders.Facts }

func (f factsView) Total() string { return orders.Yuan(f.SpentTotal) }
func (f factsView) D90() string   { return orders.Yuan(f.Spent90d) }
func (f factsView) D30() string   { return orders.Yuan(f.Spent30d) }

type orderRow struct{ orders.StoredOrder }

func (o orderRow) Total() string  { return orders.Yuan(o.TotalFen) }
func (o orderRow) Refund() string { return orders.Yuan(o.RefundFen) }

type paymentRow struct{ orders.StoredPayment }

func (p paymentRow) Amount() string   { return orders.Yuan(p.AmountFen) }
func (p paymentRow) Refunded() string { return orders.Yuan(p.RefundedFen) }

// ordersTimelineLimit bounds each list of the section.
const ordersTimelineLimit = 50

// customerOrders loads the section; nil when orders cannot be read
// (no protector).
func (s *Server) customerOrders(ctx context.Context, customerID int64) (*ordersSection, error) {
	st := s.ordersStore()
	if st == nil {
		return nil, nil
	}
	sec := &ordersSection{}
	facts, err := st.FactsOf(ctx, customerID)
	if err != nil {
		return nil, err
	}
	sec.Facts = factsView{facts}
	list, err := st.OrdersOf(ctx, customerID, ordersTimelineLimit)
	if err != nil {
		return nil, err
	}
	for _, o := range list {
		sec.Orders = append(sec.Orders, orderRow{o})
	}
	pays, err := st.PaymentsOf(ctx, customerID, ordersTimelineLimit)
	if err != nil {
		return nil, err
	}
	for _, p := range pays {
		sec.Payments = append(sec.Payments, paymentRow{p})
	}
	if sec.Accounts, err = st.Identities(ctx, customerID); err != nil {
		return nil, err
	}
	for i := range sec.Accounts {
		// Shown masked like every protected value (P-43).
		sec.Accounts[i].Account = maskAccount(sec.Accounts[i].Account)
	}
	return sec, nil
}

func maskAccount(a string) string {
	r := []rune(a)
	if len(r) == 0 {
		return "****"
	}
	return string(r[0]) + "***"
}
