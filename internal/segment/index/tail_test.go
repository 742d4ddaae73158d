package index

import (
	"context"
	"database/sql"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/segment"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

func mustStep(t testing.TB, ix *Index) {
	t.Helper()
	if err := ix.Step(context.Background()); err != nil {
		t.Fatalf("Step: %v", err)
	}
}

func wantIDs(t testing.TB, ix *Index, e segment.Expr, want ...uint32) {
	t.Helper()
	if got := ids(t, ix, e); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Errorf("%s = %v, want %v", describe(e), got, want)
	}
}

func TestTailAppliesEveryKindOfChange(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		seedFixture(t, db)
		clock := &fixedClock{testNow}
		ix := mustOpen(t, db, clock)
		vip := set(segment.FieldTag, "VIP")

		addTag(t, db, 5, "m1", "t1") // a tag on an active follow
		storetest.MustExec(t, db, `UPDATE follows SET status = 'deleted_by_customer' WHERE customer_id = 1`)
		mustStep(t, ix)
		wantIDs(t, ix, vip, 2, 5)
		wantIDs(t, ix, set(segment.FieldMember, "m1"), 5)
		wantIDs(t, ix, date(segment.FieldAdded, segment.OpGe, 0), 2, 4, 5)

		// Facts, and a customer deleted with everything on it.
		jan := sh(2026, 1, 20, 12, 0)
		setFacts(t, db, 3, 7, [4]int64{1, 2, 3, 4}, &jan)
		storetest.MustExec(t, db, `DELETE FROM customers WHERE id = 2`)
		mustStep(t, ix)
		wantIDs(t, ix, vip, 5)
		wantIDs(t, ix, num(segment.FieldOrders, segment.OpEq, 7), 3)
		wantIDs(t, ix, date(segment.FieldLastOrder, segment.OpEq, day(2026, 1, 20)), 3)
		wantIDs(t, ix, not(vip), 1, 3, 4, 6)

		// Consent by external user id and by phone number; a new phone.
		storetest.MustExec(t, db, `UPDATE consent_state SET suppressed = TRUE WHERE person_key = 'wm1'`)
		storetest.MustExec(t, db, `DELETE FROM consent_state WHERE person_index = 'h5'`)
		setConsent(t, db, "phone", "enc4", "h4", "sms", "grant", nil, false)
		addPhone(t, db, 4, "m2", "h4")
		mustStep(t, ix)
		wantIDs(t, ix, set(segment.FieldReachable, "wecom"), 3)
		wantIDs(t, ix, set(segment.FieldReachable, "sms"), 4)

		// A grant's end passes.
		clock.t = testNow.Add(2 * time.Hour)
		mustStep(t, ix)
		wantIDs(t, ix, set(segment.FieldReachable, "wecom"))

		// Names: a tag renamed, a tag moved to another group, a new member.
		storetest.MustExec(t, db, `UPDATE tags SET name = 'VVIP' WHERE tag_id = 't1'`)
		storetest.MustExec(t, db, `UPDATE tags SET group_id = 'g1' WHERE tag_id = 't4'`)
		storetest.MustExec(t, db, `INSERT INTO members (userid, name, updated_at) VALUES ('m9', 'Qian', $1)`, testNow)
		mustStep(t, ix)
		wantIDs(t, ix, vip)
		wantIDs(t, ix, set(segment.FieldTag, "VVIP"), 5)
		wantIDs(t, ix, set(segment.FieldTagGroup, "兴趣"))
		wantIDs(t, ix, set(segment.FieldTagGroup, "客户等级"), 4, 5)
		if !ix.Has(segment.FieldMember, "m9") || !ix.Has(segment.FieldTag, "VVIP") {
			t.Error("catalog not reloaded")
		}
		// A new customer arrives through a channel.
		addCustomer(t, db, 7, "wm7")
		addFollow(t, db, 7, "m2", "spring", "active", sh(2026, 2, 28, 8, 0))
		mustStep(t, ix)
		wantIDs(t, ix, set(segment.FieldChannel, "spring"), 7)
		wantIDs(t, ix, set(segment.FieldMember, "m2"), 4, 7)
		if s := ix.Stats(); s.Customers != 6 || s.AppliedSeq == 0 || s.Applied == 0 || s.LastError != "" {
			t.Errorf("stats %+v", s)
		}
	})
}

// A write through SQL reaches every index on the database within a second.
func TestTwoIndexesSeeAWrite(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		seedFixture(t, db)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var ixs []*Index
		var wg sync.WaitGroup
		for range 2 {
			ix := mustOpen(t, db, &fixedClock{testNow})
			ix.PollInterval = 50 * time.Millisecond
			ixs = append(ixs, ix)
			wg.Add(1)
			go func() { defer wg.Done(); ix.Run(ctx) }()
		}
		defer wg.Wait()
		defer cancel()
		addTag(t, db, 4, "m2", "t4")
		wrote := time.Now()
		for i, ix := range ixs {
			for {
				n, err := ix.Count(ctx, set(segment.FieldTag, "跑步"))
				if err != nil {
					t.Fatal(err)
				}
				if n == 2 {
					break
				}
				if time.Since(wrote) > time.Second {
					t.Fatalf("index %d still counts %d customers with the tag a second after the write", i, n)
				}
				time.Sleep(5 * time.Millisecond)
			}
			if !ix.Ready() {
				t.Errorf("index %d not ready while running", i)
			}
		}
	})
}

// On PostgreSQL a transaction can commit a lower sequence number after a
// higher one was read: the index must not step over it. (On SQLite writers
// take turns, so numbers become visible in order and there is nothing to
// test.)
func TestLateCommitIsNotSkipped(t *testing.T) {
	if os.Getenv(storetest.EnvURL) == "" {
		return
	}
	db := storetest.MustPostgres(t)
	seedFixture(t, db)
	ix := mustOpen(t, db, &fixedClock{testNow})
	ctx := context.Background()
	slow, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Rollback()
	if _, err := slow.ExecContext(ctx, `INSERT INTO follow_tags (customer_id, member_userid, tag_id) VALUES (5, 'm1', 't4')`); err != nil {
		t.Fatal(err)
	}
	var slowSeq int64
	if err := slow.QueryRowContext(ctx, `SELECT MAX(seq) FROM segment_changes`).Scan(&slowSeq); err != nil {
		t.Fatal(err)
	}
	addTag(t, db, 4, "m2", "t4") // commits a higher number first
	mustStep(t, ix)
	wantIDs(t, ix, set(segment.FieldTag, "跑步"), 1, 4)
	if w := ix.Stats().AppliedSeq; w >= slowSeq {
		t.Fatalf("watermark %d moved past %d, still in flight", w, slowSeq)
	}
	if err := slow.Commit(); err != nil {
		t.Fatal(err)
	}
	mustStep(t, ix)
	wantIDs(t, ix, set(segment.FieldTag, "跑步"), 1, 4, 5)
	// The transaction has ended: the watermark catches up as soon as every
	// older transaction of the server has (other tests may run some).
	for deadline := time.Now().Add(10 * time.Second); ix.Stats().AppliedSeq <= slowSeq; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("watermark %d did not pass %d after its commit", ix.Stats().AppliedSeq, slowSeq)
		}
		mustStep(t, ix)
	}
	wantIDs(t, ix, set(segment.FieldTag, "跑步"), 1, 4, 5)
}

// Pruned changes: the index that pruned goes on; one that had not read them
// builds again and answers right.
func TestPruneAndRebuildAfterAGap(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		seedFixture(t, db)
		a := mustOpen(t, db, &fixedClock{testNow})
		b := mustOpen(t, db, &fixedClock{testNow})
		a.Retention = 0
		addTag(t, db, 5, "m1", "t1")
		// On PostgreSQL the watermark (and so pruning) waits for every
		// older transaction of the server to end; other tests may hold one.
		for deadline := time.Now().Add(10 * time.Second); ; {
			mustStep(t, a)
			var left int
			if err := db.R.QueryRow(`SELECT COUNT(*) FROM segment_changes`).Scan(&left); err != nil {
				t.Fatal(err)
			}
			if left == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d change rows left after pruning", left)
			}
			time.Sleep(20 * time.Millisecond)
		}
		mustStep(t, b)
		if s := b.Stats(); s.Builds != 2 {
			t.Fatalf("b built %d times, want a rebuild after the gap", s.Builds)
		}
		wantIDs(t, b, set(segment.FieldTag, "VIP"), 1, 2, 5)
		wantIDs(t, a, set(segment.FieldTag, "VIP"), 1, 2, 5)
		addTag(t, db, 4, "m2", "t1")
		mustStep(t, b) // before a prunes it
		mustStep(t, a)
		wantIDs(t, b, set(segment.FieldTag, "VIP"), 1, 2, 4, 5)
		if s := b.Stats(); s.Builds != 2 {
			t.Fatalf("b built %d times after a normal change", s.Builds)
		}
	})
}

// Queries running while batches are applied see each batch whole: moving
// customers from one tag to another in one transaction never changes the
// count of customers with either.
func TestQueriesSeeWholeBatches(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		seedFixture(t, db)
		for id := int64(10); id < 60; id++ {
			addCustomer(t, db, id, "wmx"+string(rune('A'+id)))
			addFollow(t, db, id, "m3", "", "active", testNow)
			addTag(t, db, id, "m3", "t2")
		}
		ix := mustOpen(t, db, &fixedClock{testNow})
		either := or(set(segment.FieldTag, "普通"), set(segment.FieldTag, "跑步"))
		base, _ := ix.Count(context.Background(), either)
		ctx, cancel := context.WithCancel(context.Background())
		var torn atomic.Int64
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					if n, _ := ix.Count(ctx, either); n != base && ctx.Err() == nil {
						torn.Add(1)
					}
				}
			}()
		}
		from, to := "t2", "t4"
		for range 10 {
			err := db.InTx(context.Background(), func(tx *sql.Tx) error {
				_, err := tx.Exec(`UPDATE follow_tags SET tag_id = $1 WHERE member_userid = 'm3' AND tag_id = $2`, to, from)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			mustStep(t, ix)
			from, to = to, from
		}
		cancel()
		wg.Wait()
		if torn.Load() > 0 {
			t.Fatalf("%d counts saw half a batch", torn.Load())
		}
		wantIDs(t, ix, set(segment.FieldTag, "跑步"), 1)
	})
}
