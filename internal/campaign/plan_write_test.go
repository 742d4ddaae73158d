package campaign_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/campaign"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/protect"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// planRows returns a campaign's deliveries as "customer sender state
// reason detail", sorted.
func planRows(tb testing.TB, db *store.DB, id int64) []string {
	tb.Helper()
	rows, err := db.R.QueryContext(context.Background(), "SELECT customer_id, channel, sender, state, reason, detail FROM campaign_deliveries WHERE campaign_id = $1", id)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var cust int64
		var ch, sender, state, reason, detail string
		if err := rows.Scan(&cust, &ch, &sender, &state, &reason, &detail); err != nil {
			tb.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d %s %s %s %s %s", cust, ch, sender, state, reason, detail))
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// Planning in steps of any size writes exactly the deliveries and
// refusals of planning in one step, and counts them alike.
func TestPlanInSteps(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db, 40)
		plan := func(step int) (campaign.Preview, []string) {
			t.Helper()
			w.svc.PlanStep = step
			in := wecomInput(campaign.Audience{Tags: []string{"vip"}})
			in.Name = fmt.Sprint("step ", step)
			c := w.create(t, in)
			if _, err := w.svc.Schedule(ctx, c.ID); err != nil {
				t.Fatal(err)
			}
			p, err := w.svc.Plan(ctx, c.ID)
			if err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
			// The rows, without the campaign: compare across campaigns.
			return p, planRows(t, db, c.ID)
		}
		want, wantRows := plan(0)
		// vip: the 20 even customers; 6, 12, … 36 never consented.
		if want.Audience != 20 || want.Permitted != 14 || want.Refused["NO_CONSENT"] != 6 || len(wantRows) != 20 {
			t.Fatalf("one step: %+v, %d rows", want, len(wantRows))
		}
		for _, step := range []int{1, 3, 7, 19, 20, 21} {
			p, rows := plan(step)
			if p.Audience != want.Audience || p.Permitted != want.Permitted || p.Deferred != want.Deferred ||
				fmt.Sprint(p.Refused) != fmt.Sprint(want.Refused) || fmt.Sprint(p.BySender) != fmt.Sprint(want.BySender) {
				t.Errorf("step %d: %+v, want %+v", step, p, want)
			}
			if !slices.Equal(rows, wantRows) {
				t.Errorf("step %d: deliveries differ:\n%v\nwant\n%v", step, rows, wantRows)
			}
		}
	})
}

// failingAddresser fails from its after-th call on.
type failingAddresser struct {
	next  campaign.Addresser
	calls int
	after int
}

var errAddressBook = errors.New("the address book is down")

func (f *failingAddresser) Addresses(ctx context.Context, ch campaign.Channel, ids []int64) (map[int64]campaign.Recipient, error) {
	f.calls++
	if f.calls >= f.after {
		return nil, errAddressBook
	}
	return f.next.Addresses(ctx, ch, ids)
}

// A failure in the middle of planning stops every stage and is returned;
// the campaign is not marked planned.
func TestPlanInStepsFails(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newWorld(t, db, 40)
		svc := campaign.New(campaign.Config{DB: db, Gate: w.gate, Clock: w.clock, Addresses: &failingAddresser{next: &campaign.DBAddresser{DB: db}, after: 3}})
		svc.PlanStep = 2
		c, err := svc.Create(ctx, 1, wecomInput(campaign.Audience{Tags: []string{"vip"}}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Schedule(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := svc.Plan(ctx, c.ID)
			done <- err
		}()
		select {
		case err = <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("planning hangs after a failure")
		}
		if !errors.Is(err, errAddressBook) {
			t.Fatalf("plan: %v, want the address book's error", err)
		}
		if c, _ = svc.Get(ctx, c.ID); !c.PlannedAt.IsZero() {
			t.Error("a failed plan is marked planned")
		}
	})
}

// plainOpener "opens" a sealed value by returning it.
type plainOpener struct{}

func (plainOpener) Open(_ string, s protect.Sealed) (string, error) { return s.Value, nil }

// The e-mail and phone address books look up more customers than one
// query asks about, and answer each with its first address.
func TestAddressersManyIDs(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		at := wed10.Add(-48 * time.Hour)
		ov := "" // ids given explicitly
		if db.Dialect == store.Postgres {
			ov = " OVERRIDING SYSTEM VALUE"
		}
		mustExec(t, db, "INSERT INTO members (userid, name, status, contact_enabled, updated_at) VALUES ('alice', 'alice', 1, TRUE, $1)", at)
		// Customers 1, 5, 9, … have an e-mail address (customer 1 two) and a
		// phone number; the ids asked about go past one query's 10,000.
		for i := 1; i <= 25000; i += 4000 {
			mustExec(t, db, `INSERT INTO protected_values (owner_kind, owner_id, field, value_index, sealed, key_id, masked, created_at)
				VALUES ('customer', $1, 'email', $2, $3, 'k1', 'x', $4)`, fmt.Sprint(i), fmt.Sprint("i", i), fmt.Sprintf("c%d@example.com", i), at)
			mustExec(t, db, "INSERT INTO customers (id, external_userid, created_at, updated_at)"+ov+" VALUES ($1, $2, $3, $3)", i, fmt.Sprint("wm", i), at)
			mustExec(t, db, "INSERT INTO follows (customer_id, member_userid, added_at, updated_at) VALUES ($1, 'alice', $2, $2)", i, at)
			mustExec(t, db, "INSERT INTO customer_phones (customer_id, member_userid, phone_sealed, phone_index, key_id) VALUES ($1, 'alice', $2, $3, 'k1')",
				i, fmt.Sprintf("139%08d", i), fmt.Sprint("p", i))
		}
		mustExec(t, db, `INSERT INTO protected_values (owner_kind, owner_id, field, value_index, sealed, key_id, masked, created_at)
			VALUES ('customer', '1', 'email', 'later', 'later@example.com', 'k1', 'x', $1)`, at.Add(time.Hour))
		mustExec(t, db, `INSERT INTO protected_values (owner_kind, owner_id, field, value_index, sealed, key_id, masked, created_at)
			VALUES ('order', '5', 'email', 'o5', 'order@example.com', 'k1', 'x', $1)`, at)
		ids := make([]int64, 0, 25000)
		for i := int64(1); i <= 25000; i++ {
			ids = append(ids, i)
		}
		phones := &campaign.PhoneAddresser{DB: db, Opener: plainOpener{}}
		emails := &campaign.EmailAddresser{DB: db, Opener: plainOpener{}, Next: phones}
		got, err := emails.Addresses(ctx, campaign.Email, ids)
		if err != nil {
			t.Fatal(err)
		}
		byPhone, err := emails.Addresses(ctx, campaign.SMS, ids)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 7 || len(byPhone) != 7 {
			t.Fatalf("%d e-mail and %d phone addresses, want 7 each: %v %v", len(got), len(byPhone), got, byPhone)
		}
		for i := int64(1); i <= 25000; i += 4000 {
			if r := got[i]; r.CustomerID != i || r.Person != consent.Email(fmt.Sprintf("c%d@example.com", i)) {
				t.Errorf("customer %d's e-mail: %+v", i, r)
			}
			if r := byPhone[i]; r.CustomerID != i || r.Person != consent.Phone(fmt.Sprintf("139%08d", i)) {
				t.Errorf("customer %d's phone: %+v", i, r)
			}
		}
	})
}
