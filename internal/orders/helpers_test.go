package orders_test

import (
	"bytes"
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/customer"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/orders"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/store"
)

// now is a Monday noon in Shanghai.
var now = time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)

var shanghai = func() *time.Location {
	l, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return l
}()

func mustProtector(tb testing.TB) *protect.Protector {
	tb.Helper()
	p, err := protect.New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

type fixture struct {
	db    *store.DB
	p     *protect.Protector
	clock *kith.FixedClock
	s     *orders.Store
}

func newFixture(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	p := mustProtector(t)
	clock := kith.NewFixedClock(now)
	s := orders.NewStore(db, p, clock)
	s.Location = shanghai
	return &fixture{db: db, p: p, clock: clock, s: s}
}

// addCustomer adds a customer followed by one member, with the phone
// numbers the member noted, and returns its id.
func (f *fixture) addCustomer(t *testing.T, externalUserID, unionID string, phones ...string) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	err := f.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := customer.ApplyMember(ctx, tx, customer.Member{UserID: "zhangsan", Name: "张三", Status: 1}, now); err != nil {
			return err
		}
		var err error
		id, err = customer.ApplyCustomer(ctx, tx, customer.Customer{ExternalUserID: externalUserID, UnionID: unionID, Name: "客户", Type: 1}, now)
		if err != nil {
			return err
		}
		var sealed []protect.Sealed
		for _, ph := range phones {
			s, err := f.p.Seal(protect.FieldPhone, ph)
			if err != nil {
				return err
			}
			sealed = append(sealed, s)
		}
		return customer.ApplyFollow(ctx, tx, id, customer.Follow{MemberUserID: "zhangsan", AddedAt: now, Phones: sealed}, now)
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// put writes orders in one transaction and returns the outcomes.
func (f *fixture) put(t *testing.T, os ...orders.Order) []orders.Outcome {
	t.Helper()
	var out []orders.Outcome
	err := f.s.Write(context.Background(), func(w *orders.Writer) error {
		for i := range os {
			o, err := w.Put(context.Background(), &os[i])
			if err != nil {
				return err
			}
			out = append(out, o)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (f *fixture) facts(t *testing.T, customerID int64) orders.Facts {
	t.Helper()
	fa, err := f.s.FactsOf(context.Background(), customerID)
	if err != nil {
		t.Fatal(err)
	}
	return fa
}

func order(no string, totalFen int64, at time.Time) orders.Order {
	return orders.Order{Shop: "taobao:旗舰店", OrderNo: no, Source: "import", Status: orders.StatusCompleted, TotalFen: totalFen,
		OrderedAt: at, PaidAt: at.Add(time.Minute), Items: []orders.Item{{SKU: "SKU-1", Title: "茶叶", Quantity: 1, PriceFen: totalFen}}}
}
