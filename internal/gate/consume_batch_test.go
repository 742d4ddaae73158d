package gate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// TestConsumeBatchAsOneByOne: ConsumeBatch gives every permit the decision
// successive Consumes give it, and records the same sends: caps reached in
// the middle of the batch, a permit given twice or used before, zero,
// forged and expired permits, consent withdrawn and a suppression after
// the decision, a service message, the frequency the person agreed to. A
// refused permit records nothing.
func TestConsumeBatchAsOneByOne(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		g, clock := mustGate(t, db, wed10.Add(-PermitTTL-time.Hour))
		if err := g.SetPolicy(ctx, Policy{Channel: consent.ChannelSMS, CapWeek: 2, QuietStart: 21 * 60, QuietEnd: 8 * 60}); err != nil {
			t.Fatal(err)
		}
		ph := func(i int) consent.Person { return consent.Phone(fmt.Sprintf("1380000%04d", i)) }
		a, b, c, d, e, f := ph(1), ph(2), ph(3), ph(4), ph(5), ph(6)
		for _, p := range []consent.Person{a, b, c, e, f} {
			mustGrant(t, db, p, consent.ChannelSMS, wed10.Add(-48*time.Hour), nil)
		}
		mustGrant(t, db, d, consent.ChannelSMS, wed10.Add(-48*time.Hour), &consent.Scope{MaxPerWeek: 1})
		decide := func(r Request) Permit {
			t.Helper()
			dec, err := g.Decide(ctx, r)
			if err != nil || !dec.Allowed {
				t.Fatalf("decide %s: %s %v", r.Person, dec.Reason, err)
			}
			return dec.Permit
		}
		// An expired permit: decided more than PermitTTL ago.
		expired := decide(mktSMS(f))
		clock.Add(PermitTTL + time.Hour)
		// b was sent one message before: one more this week.
		used := decide(mktSMS(b))
		if err := mustConsume(t, db, g, used); err != nil {
			t.Fatal(err)
		}
		a1, a2, a3 := decide(mktSMS(a)), decide(mktSMS(a)), decide(mktSMS(a))
		b1, b2 := decide(mktSMS(b)), decide(mktSMS(b))
		c1 := decide(mktSMS(c))
		cService := decide(Request{Person: c, Channel: consent.ChannelSMS, Class: Service, Content: Content{Body: smsPlain}})
		d1, d2 := decide(mktSMS(d)), decide(mktSMS(d))
		e1 := decide(mktSMS(e))
		f1 := decide(mktSMS(f))
		tampered := *f1.p
		tampered.person = a
		// After the decisions: c withdraws, e is suppressed.
		clock.Add(time.Minute)
		mustEvent(t, db, withdrawal(c, consent.ChannelSMS, consent.Withdraw, clock.Now()))
		if err := consent.Suppress(ctx, db.W, testKey, e, consent.Marketing, consent.ChannelSMS, "complaint", clock.Now()); err != nil {
			t.Fatal(err)
		}
		clock.Add(time.Second)
		permits := []Permit{a1, b1, {}, a2, c1, cService, d1, a1, a3, b2, used, d2, e1, {&tampered}, expired, f1}

		type outcome struct {
			reasons []string
			sends   []string
		}
		// run consumes permits inside one transaction it rolls back, and
		// returns each decision and the sends recorded.
		run := func(consume func(ctx context.Context, tx *sql.Tx) ([]error, error)) outcome {
			t.Helper()
			tx, err := db.W.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			errs, err := consume(ctx, tx)
			if err != nil {
				t.Fatal(err)
			}
			var o outcome
			for _, err := range errs {
				var r *Refusal
				switch {
				case err == nil:
					o.reasons = append(o.reasons, "OK")
				case errors.As(err, &r):
					o.reasons = append(o.reasons, string(r.Reason)+": "+r.Message)
				default:
					t.Fatalf("not a refusal: %v", err)
				}
			}
			rows, err := tx.QueryContext(ctx, "SELECT permit_id, person_kind, person_key, channel, class, at FROM gate_sends ORDER BY permit_id")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var id, kind, key, ch, class string
				var at time.Time
				if err := rows.Scan(&id, &kind, &key, &ch, &class, &at); err != nil {
					t.Fatal(err)
				}
				o.sends = append(o.sends, strings.Join([]string{id, kind, key, ch, class, at.UTC().Format(time.RFC3339Nano)}, " "))
			}
			return o
		}
		one := run(func(ctx context.Context, tx *sql.Tx) ([]error, error) {
			errs := make([]error, len(permits))
			for i, p := range permits {
				if _, err := tx.ExecContext(ctx, "SAVEPOINT one"); err != nil {
					return nil, err
				}
				errs[i] = g.Consume(ctx, tx, p)
				undo := "RELEASE SAVEPOINT one"
				if errs[i] != nil {
					undo = "ROLLBACK TO SAVEPOINT one"
				}
				if _, err := tx.ExecContext(ctx, undo); err != nil {
					return nil, err
				}
			}
			return errs, nil
		})
		batch := run(func(ctx context.Context, tx *sql.Tx) ([]error, error) { return g.ConsumeBatch(ctx, tx, permits) })
		want := []Reason{OK, OK, PermitMissing, OK, ConsentWithdrawn, OK, OK, PermitReused, FreqCap, FreqCap, PermitReused, ConsentFrequency,
			Suppressed, PermitForged, PermitExpired, OK}
		for i, w := range want {
			if !strings.HasPrefix(one.reasons[i], string(w)) {
				t.Errorf("one by one, permit %d: %s, want %s", i, one.reasons[i], w)
			}
			if batch.reasons[i] != one.reasons[i] {
				t.Errorf("permit %d: batch %q, one by one %q", i, batch.reasons[i], one.reasons[i])
			}
		}
		if strings.Join(batch.sends, "\n") != strings.Join(one.sends, "\n") {
			t.Errorf("sends recorded:\nbatch:\n%s\none by one:\n%s", strings.Join(batch.sends, "\n"), strings.Join(one.sends, "\n"))
		}
		// used + a1, a2, b1, cService, d1, f1.
		if len(batch.sends) != 7 {
			t.Errorf("%d sends recorded, want 7", len(batch.sends))
		}
		// Committed, the batch's permits are used: a second batch refuses them all.
		var errs []error
		if err := db.InTx(ctx, func(tx *sql.Tx) error {
			var err error
			errs, err = g.ConsumeBatch(ctx, tx, permits)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		again, err := g.ConsumeBatch(ctx, db.W, []Permit{a1, b1, f1})
		if err != nil {
			t.Fatal(err)
		}
		for i, err := range again {
			var r *Refusal
			if !errors.As(err, &r) || r.Reason != PermitReused {
				t.Errorf("permit %d consumed twice: %v", i, err)
			}
		}
		if len(errs) != len(permits) {
			t.Fatalf("%d results for %d permits", len(errs), len(permits))
		}
	})
}
