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

func TestProtectedEmailsAndAddresses(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		seed(t, db)
		p, err := protect.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
		if err != nil {
			t.Fatal(err)
		}
		seal := func(field, v string) protect.Sealed {
			s, err := p.Seal(field, v)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		var a, b int64
		inTx(t, db, func(tx *sql.Tx) error {
			if a, err = customer.ApplyCustomer(ctx, tx, customer.Customer{ExternalUserID: "wmA", Name: "陈静", Type: 1}, now); err != nil {
				return err
			}
			if b, err = customer.ApplyCustomer(ctx, tx, customer.Customer{ExternalUserID: "wmB", Name: "王芳", Type: 1}, now); err != nil {
				return err
			}
			if err := customer.SetProtected(ctx, tx, a, protect.FieldEmail, []protect.Sealed{seal(protect.FieldEmail, "Chen@Example.com")}, now); err != nil {
				return err
			}
			if err := customer.SetProtected(ctx, tx, a, protect.FieldAddress, []protect.Sealed{seal(protect.FieldAddress, "浙江省杭州市西湖区文三路90号")}, now); err != nil {
				return err
			}
			if err := customer.SetProtected(ctx, tx, b, protect.FieldPhone, []protect.Sealed{seal(protect.FieldPhone, "13812341234")}, now); err != nil {
				return err
			}
			if err := customer.ApplyFollow(ctx, tx, a, customer.Follow{MemberUserID: "zhangsan", AddedAt: now, Phones: []protect.Sealed{seal(protect.FieldPhone, "13812341234")}}, now); err != nil {
				return err
			}
			// The same address on the second customer: a duplicate found by index.
			return customer.SetProtected(ctx, tx, b, protect.FieldAddress, []protect.Sealed{seal(protect.FieldAddress, " 浙江省杭州市西湖区文三路90号 ")}, now)
		})
		vals, err := customer.Protected(ctx, db.R, a)
		if err != nil || len(vals) != 2 || vals[0].Masked != "浙江省杭州市****" || vals[1].Masked != "c***@example.com" {
			t.Fatalf("Protected = %+v %v", vals, err)
		}
		if strings.Contains(vals[1].Value, "chen") {
			t.Fatal("plaintext stored")
		}
		for _, c := range []struct {
			field, value string
			want         []int64
		}{
			{protect.FieldAddress, "浙江省杭州市西湖区文三路90号", []int64{a, b}},
			{protect.FieldEmail, "CHEN@example.com", []int64{a}},
			{protect.FieldEmail, "wang@example.com", nil},
			{protect.FieldPhone, "+86 138 1234 1234", []int64{a, b}}, // a on a relation, b of their own
		} {
			got, err := customer.FindByProtected(ctx, db.R, c.field, p.Index(c.field, c.value))
			if err != nil || fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("FindByProtected(%s, %q) = %v %v, want %v", c.field, c.value, got, err, c.want)
			}
		}
		err = db.InTx(ctx, func(tx *sql.Tx) error {
			return customer.SetProtected(ctx, tx, a, protect.FieldEmail, []protect.Sealed{{Value: "chen@example.com"}}, now)
		})
		if kith.ErrorCode(err) != kith.EINVALID {
			t.Fatalf("plaintext e-mail: %v", err)
		}
	})
}
