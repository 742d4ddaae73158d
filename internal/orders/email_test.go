package orders_test

import (
	"context"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/orders"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// TestOrderBuyerEmail: an order linked to a customer gives them its
// buyer e-mail (source import or webhook, once); an order linked to
// nobody, or a malformed address, stores none; the mapping has the field.
func TestOrderBuyerEmail(t *testing.T) {
	found := false
	for _, f := range orders.Fields {
		found = found || f == orders.FBuyerEmail
	}
	if !found {
		t.Fatal("buyer_email is not a mapping field")
	}
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		id := f.addCustomer(t, "wmA", "", "13812341234")
		a := order("E1", 1000, now.Add(-time.Hour))
		a.Phone, a.Email = "13812341234", " Chen@Example.com "
		b := order("E2", 2000, now.Add(-time.Hour))
		b.Phone, b.Email, b.Source = "13812341234", "chen@example.com", "webhook:shop"
		c := order("E3", 3000, now.Add(-time.Hour))
		c.Phone, c.Email = "13900000000", "nobody@example.com" // linked to no customer
		d := order("E4", 4000, now.Add(-time.Hour))
		d.Phone, d.Email = "13812341234", "not an address"
		f.put(t, a, b, c, d)
		list, err := customer.Emails(context.Background(), db.R, id)
		if err != nil || len(list) != 1 || list[0].Masked != "c***@example.com" || list[0].Source != customer.EmailFromImport {
			t.Fatalf("emails: %+v %v", list, err)
		}
		var n int
		db.R.QueryRow("SELECT COUNT(*) FROM protected_values WHERE field = 'email'").Scan(&n)
		if n != 1 {
			t.Errorf("%d addresses stored, want 1", n)
		}
	})
}
