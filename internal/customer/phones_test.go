package customer_test

import (
	"bytes"
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

func TestPhonesSealedAndFoundByIndex(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		seed(t, db)
		p, err := protect.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
		if err != nil {
			t.Fatal(err)
		}
		phone, err := p.Seal(protect.FieldPhone, "13812341234")
		if err != nil {
			t.Fatal(err)
		}
		var id int64
		inTx(t, db, func(tx *sql.Tx) error {
			id, err = customer.ApplyCustomer(ctx, tx, customer.Customer{ExternalUserID: "wm001", Name: "陈静", Type: 1}, now)
			if err != nil {
				return err
			}
			return customer.ApplyFollow(ctx, tx, id, customer.Follow{MemberUserID: "zhangsan", AddedAt: now, Phones: []protect.Sealed{phone, phone}}, now)
		})
		var raw, index, keyID string
		if err := db.R.QueryRowContext(ctx, "SELECT phone_sealed, phone_index, key_id FROM customer_phones WHERE customer_id = $1", id).Scan(&raw, &index, &keyID); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(raw, "13812341234") || strings.Contains(raw, "1234") && !strings.HasPrefix(raw, "fc1:") || keyID == "" {
			t.Fatalf("stored %q %q", raw, keyID)
		}
		d, err := customer.NewDirectory(db).Get(ctx, "wm001")
		if err != nil || len(d.Follows) != 1 || len(d.Follows[0].Phones) != 1 {
			t.Fatalf("detail %+v %v", d, err)
		}
		if got, err := p.Open(protect.FieldPhone, d.Follows[0].Phones[0]); err != nil || got != "13812341234" {
			t.Fatalf("open = %q %v", got, err)
		}
		q := "+86 138 1234 1234"
		page, err := customer.NewDirectory(db).List(ctx, customer.Filter{Query: q, PhoneIndex: p.Index(protect.FieldPhone, q)})
		if err != nil || len(page.Rows) != 1 || page.Rows[0].ExternalUserID != "wm001" {
			t.Fatalf("search by phone: %+v %v", page, err)
		}
		page, _ = customer.NewDirectory(db).List(ctx, customer.Filter{Query: "13812341235", PhoneIndex: p.Index(protect.FieldPhone, "13812341235")})
		if len(page.Rows) != 0 {
			t.Fatalf("another number found %+v", page.Rows)
		}
		// A nil Phones leaves them; an empty one clears them.
		inTx(t, db, func(tx *sql.Tx) error {
			return customer.ApplyFollow(ctx, tx, id, customer.Follow{MemberUserID: "zhangsan", AddedAt: now}, now)
		})
		if d, _ := customer.NewDirectory(db).Get(ctx, "wm001"); len(d.Follows[0].Phones) != 1 {
			t.Fatal("nil Phones cleared the phones")
		}
		inTx(t, db, func(tx *sql.Tx) error {
			return customer.ApplyFollow(ctx, tx, id, customer.Follow{MemberUserID: "zhangsan", AddedAt: now, Phones: []protect.Sealed{}}, now)
		})
		if d, _ := customer.NewDirectory(db).Get(ctx, "wm001"); len(d.Follows[0].Phones) != 0 {
			t.Fatal("empty Phones kept the phones")
		}
	})
}
