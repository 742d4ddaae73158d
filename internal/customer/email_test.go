package customer_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// TestCustomerEmails: an address is stored sealed (no plaintext in the
// row), blind-indexed, masked, with its source; a duplicate in another
// case is refused, a bad one or an unknown source too; removing works once.
func TestCustomerEmails(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p, err := protect.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
		if err != nil {
			t.Fatal(err)
		}
		var id int64
		inTx(t, db, func(tx *sql.Tx) error {
			id, err = customer.ApplyCustomer(ctx, tx, customer.Customer{ExternalUserID: "wmE", Name: "陈静", Type: 1}, now)
			return err
		})
		e, err := customer.AddEmail(ctx, db.W, p, id, " Chen.Jing@Example.com ", customer.EmailFromConsole, "user:owner", now)
		if err != nil {
			t.Fatal(err)
		}
		if e.Masked != "c***@example.com" || e.Index != p.Index(protect.FieldEmail, "chen.jing@example.com") {
			t.Errorf("stored %+v", e)
		}
		var raw, masked, source, by string
		if err := db.R.QueryRowContext(ctx, "SELECT sealed, masked, source, added_by FROM protected_values WHERE owner_id = $1 AND field = 'email'", fmt.Sprint(id)).
			Scan(&raw, &masked, &source, &by); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(strings.ToLower(raw), "chen") || masked != "c***@example.com" || source != "console" || by != "user:owner" {
			t.Errorf("row: sealed %q masked %q source %q by %q", raw, masked, source, by)
		}
		if plain, err := p.Open(protect.FieldEmail, e.Sealed); err != nil || plain != "chen.jing@example.com" {
			t.Errorf("open: %q %v", plain, err)
		}
		if _, err := customer.AddEmail(ctx, db.W, p, id, "CHEN.JING@example.com", customer.EmailFromAPI, "api", now); kith.ErrorCode(err) != kith.ECONFLICT {
			t.Errorf("duplicate: %v", err)
		}
		if _, err := customer.AddEmail(ctx, db.W, p, id, "not-an-address", customer.EmailFromAPI, "api", now); kith.ErrorCode(err) != kith.EINVALID {
			t.Errorf("bad address: %v", err)
		}
		if _, err := customer.AddEmail(ctx, db.W, p, id, "x@example.com", "guess", "api", now); kith.ErrorCode(err) != kith.EINVALID {
			t.Errorf("bad source: %v", err)
		}
		ids, err := customer.FindByProtected(ctx, db.R, protect.FieldEmail, p.Index(protect.FieldEmail, "chen.jing@example.com"))
		if err != nil || len(ids) != 1 || ids[0] != id {
			t.Errorf("find: %v %v", ids, err)
		}
		for i := 1; i < customer.MaxEmails; i++ {
			if _, err := customer.AddEmail(ctx, db.W, p, id, fmt.Sprintf("a%d@example.com", i), customer.EmailFromImport, "import", now); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := customer.AddEmail(ctx, db.W, p, id, "one-too-many@example.com", customer.EmailFromImport, "import", now); kith.ErrorCode(err) != kith.EINVALID {
			t.Errorf("over the limit: %v", err)
		}
		if err := customer.RemoveEmail(ctx, db.W, id, e.Index); err != nil {
			t.Fatal(err)
		}
		if err := customer.RemoveEmail(ctx, db.W, id, e.Index); kith.ErrorCode(err) != kith.ENOTFOUND {
			t.Errorf("second removal: %v", err)
		}
		list, err := customer.Emails(ctx, db.R, id)
		if err != nil || len(list) != customer.MaxEmails-1 {
			t.Errorf("left: %d %v", len(list), err)
		}
	})
}
