package consent_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// fakeIndex stands in for protect.Protector.
type fakeIndex struct{}

func (fakeIndex) Index(field, value string) string { return "ix:" + field + ":" + value }

// stateRow is a consent_state row as the test compares it.
type stateRow struct {
	Person       consent.Person
	Purpose      consent.Purpose
	Channel      consent.Channel
	Action       consent.Action
	Source       consent.Source
	EventID      int64
	ValidUntil   string
	Scope        bool // a scope is stored
	Suppressed   bool
	SuppressedAt string
	PersonIndex  string
	OccurredAt   string
	ReceivedAt   string
}

func (r stateRow) String() string {
	return fmt.Sprintf("{%s %s/%s %s by %s event %d valid_until=%q scope=%v suppressed=%v@%q index=%q occurred=%s received=%s}",
		r.Person, r.Purpose, r.Channel, r.Action, r.Source, r.EventID, r.ValidUntil, r.Scope, r.Suppressed, r.SuppressedAt, r.PersonIndex, r.OccurredAt, r.ReceivedAt)
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func readStateTable(tb testing.TB, db *store.DB) []stateRow {
	tb.Helper()
	rows, err := db.R.Query(`SELECT person_kind, person_key, purpose, channel, action, source, event_id, valid_until, scope, suppressed,
		suppressed_at, person_index, occurred_at, received_at FROM consent_state`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []stateRow
	for rows.Next() {
		var r stateRow
		var kind, pu, ch, action, source, scope string
		var valid, supAt sql.NullTime
		var occ, rec time.Time
		if err := rows.Scan(&kind, &r.Person.Key, &pu, &ch, &action, &source, &r.EventID, &valid, &scope, &r.Suppressed, &supAt,
			&r.PersonIndex, &occ, &rec); err != nil {
			tb.Fatal(err)
		}
		r.Person.Kind, r.Purpose, r.Channel, r.Action, r.Source = consent.PersonKind(kind), consent.Purpose(pu), consent.Channel(ch), consent.Action(action), consent.Source(source)
		r.Scope = scope != ""
		if valid.Valid {
			r.ValidUntil = ts(valid.Time)
		}
		if supAt.Valid {
			r.SuppressedAt = ts(supAt.Time)
		}
		r.OccurredAt, r.ReceivedAt = ts(occ), ts(rec)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	sortRows(out)
	return out
}

func sortRows(rs []stateRow) {
	sort.Slice(rs, func(i, j int) bool { return rs[i].String() < rs[j].String() })
}

// foldedState is what consent_state must hold: the fold of every event
// (Ledger.State at the end of time) and the suppressions.
func foldedState(tb testing.TB, db *store.DB, persons []consent.Person) []stateRow {
	tb.Helper()
	ctx := context.Background()
	l := consent.NewLedger(db.R, key)
	purposes, err := l.Purposes(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	end := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	var out []stateRow
	for _, p := range persons {
		ch := map[consent.PersonKind]consent.Channel{consent.KindPhone: consent.ChannelSMS, consent.KindEmail: consent.ChannelEmail, consent.KindExternalUser: consent.ChannelWeCom}[p.Kind]
		for _, pu := range purposes {
			st, err := l.State(ctx, p, pu.Key, ch, end)
			if err != nil {
				tb.Fatal(err)
			}
			if st.Last == nil {
				continue
			}
			r := stateRow{Person: p, Purpose: pu.Key, Channel: ch, Action: st.Last.Action, Source: st.Last.Source, EventID: st.Last.ID,
				Scope: st.Last.Scope != nil, Suppressed: st.Suppressed, OccurredAt: ts(st.Last.OccurredAt), ReceivedAt: ts(st.Last.ReceivedAt)}
			if st.Last.Scope != nil && st.Last.Scope.ValidUntil != nil {
				r.ValidUntil = ts(*st.Last.Scope.ValidUntil)
			}
			if st.Suppressed {
				r.SuppressedAt = ts(st.SuppressedAt)
			}
			if p.Kind == consent.KindPhone {
				r.PersonIndex = fakeIndex{}.Index("phone", p.Key)
			}
			out = append(out, r)
		}
	}
	sortRows(out)
	return out
}

// TestStateIsTheFold runs random sequences of records, opt-outs,
// suppressions and erasures and checks after each that consent_state equals
// the fold of the events, and that rebuilding it from scratch gives the
// same table.
func TestStateIsTheFold(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := consent.NewLedger(db.R, key).UseIndexer(fakeIndex{})
		changes := 0
		l.OnChange(func() { changes++ })
		persons := []consent.Person{alice, consent.Phone("13900139000"), bob, wm, consent.ExternalUser("wmOther")}
		chOf := func(p consent.Person) consent.Channel {
			return map[consent.PersonKind]consent.Channel{consent.KindPhone: consent.ChannelSMS, consent.KindEmail: consent.ChannelEmail, consent.KindExternalUser: consent.ChannelWeCom}[p.Kind]
		}
		purposes := []consent.Purpose{consent.Marketing, consent.Profiling, consent.Service}
		sources := []consent.Source{consent.SourceCustomer, consent.SourceImport, consent.SourceConsole}
		rng := rand.New(rand.NewPCG(7, uint64(len(db.Dialect))))
		clock := t0
		ops := map[string]int{}
		for step := range 150 {
			clock = clock.Add(time.Minute)
			p := persons[rng.IntN(len(persons))]
			pu := purposes[rng.IntN(len(purposes))]
			ch := chOf(p)
			// occurred_at sometimes lies in the past: an old event
			// recorded late must not outweigh a newer one.
			occurred := clock.Add(-time.Duration(rng.IntN(3)) * 30 * time.Minute)
			var op string
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				switch k := rng.IntN(10); {
				case k < 4:
					op = "grant"
					e := grant(t, db, p, pu, ch, occurred)
					e.ReceivedAt = clock
					e.Source = sources[rng.IntN(len(sources))]
					switch e.Source {
					case consent.SourceImport:
						e.Evidence = consent.Evidence{consent.EvidenceProvenance: "crm", consent.EvidenceBatch: "b1"}
					case consent.SourceConsole:
						e.Evidence = consent.Evidence{consent.EvidenceAttachment: "proof-1"}
					}
					if rng.IntN(3) == 0 {
						v := occurred.Add(time.Duration(rng.IntN(5)+1) * time.Hour)
						e.Scope = &consent.Scope{Types: []string{"promotion"}, ValidUntil: &v}
					}
					return l.Record(ctx, tx, e)
				case k < 6:
					op = "withdraw"
					e := withdraw(p, pu, ch, occurred)
					e.ReceivedAt = clock
					return l.Record(ctx, tx, e)
				case k < 8:
					op = "opt-out"
					_, err := l.OptOut(ctx, tx, consent.OptOutRequest{Person: p, Channel: ch, Source: consent.SourceOneClick,
						Evidence: consent.Evidence{consent.EvidenceURL: "https://x.example/u"}, RecordedBy: "web", OccurredAt: occurred, ReceivedAt: clock})
					return err
				case k < 9:
					op = "suppress"
					return consent.Suppress(ctx, tx, key, p, pu, ch, "complaint", clock)
				default:
					op = "erase"
					_, err := consent.Erase(ctx, tx, key, p, clock)
					return err
				}
			})
			if err != nil {
				op += " (refused)"
				if testing.Verbose() && ops[op] == 0 {
					t.Logf("%s refused: %v", op, err)
				}
			}
			ops[op]++
			got, want := readStateTable(t, db), foldedState(t, db, persons)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("step %d (%s %s %s): consent_state\n%v\nwant the fold\n%v", step, op, p, pu, got, want)
			}
			// CurrentStates reads the table and States folds the events:
			// the same states now, before the last events (which the
			// fold at that instant leaves out) and after grants expired.
			for _, at := range []time.Time{clock, clock.Add(-45 * time.Minute), clock.Add(-90 * time.Minute), clock.Add(10 * time.Hour)} {
				sameStates(t, db, l, persons, chOf, purposes, at, fmt.Sprintf("step %d (%s)", step, op))
			}
		}
		t.Logf("operations: %v", ops)
		if ops["grant"] == 0 || ops["erase"] == 0 || ops["suppress"] == 0 || ops["opt-out"] == 0 {
			t.Fatalf("the sequence missed an operation: %v", ops)
		}
		if changes == 0 {
			t.Fatal("OnChange was never called")
		}
		before := readStateTable(t, db)
		if err := db.InTx(ctx, func(tx *sql.Tx) error { _, err := l.RebuildState(ctx, tx, clock); return err }); err != nil {
			t.Fatal(err)
		}
		if after := readStateTable(t, db); !reflect.DeepEqual(before, after) {
			t.Fatalf("rebuilt consent_state differs:\n%v\nwas\n%v", after, before)
		}
		// A table never built (before BackfillState): CurrentStates folds
		// the events.
		if _, err := db.W.ExecContext(ctx, "UPDATE consent_state_seq SET built = FALSE WHERE one = 1"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.W.ExecContext(ctx, "DELETE FROM consent_state"); err != nil {
			t.Fatal(err)
		}
		sameStates(t, db, l, persons, chOf, purposes, clock, "consent_state not built")
	})
}

// TestBackfillState checks that the first BackfillState folds events
// recorded without consent_state (as before migration 00011), and that
// later calls do nothing.
func TestBackfillState(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := consent.NewLedger(db.R, key).UseIndexer(fakeIndex{})
		mustRecordWith(t, l, db.W, grant(t, db, alice, consent.Marketing, consent.ChannelSMS, t0))
		mustRecordWith(t, l, db.W, grant(t, db, wm, consent.Marketing, consent.ChannelWeCom, t0))
		// Forget consent_state, as a database from before 00011 had it.
		storetest.MustExec(t, db, "DELETE FROM consent_state")
		storetest.MustExec(t, db, "UPDATE consent_state_seq SET built = FALSE WHERE one = 1")
		n, err := l.BackfillState(ctx, db, t0)
		if err != nil || n != 2 {
			t.Fatalf("backfill: %d rows, %v", n, err)
		}
		if got, want := readStateTable(t, db), foldedState(t, db, []consent.Person{alice, wm}); !reflect.DeepEqual(got, want) {
			t.Fatalf("backfilled\n%v\nwant\n%v", got, want)
		}
		if n, err := l.BackfillState(ctx, db, t0); err != nil || n != 0 {
			t.Fatalf("second backfill: %d rows, %v", n, err)
		}
	})
}

// TestEraseNotesStateRows checks that an erasure leaves the event ids of
// the deleted rows (and nothing personal) in consent_state_erased.
func TestEraseNotesStateRows(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := consent.NewLedger(db.R, key)
		mustRecordWith(t, l, db.W, grant(t, db, alice, consent.Marketing, consent.ChannelSMS, t0))
		var id int64
		if err := db.R.QueryRow("SELECT event_id FROM consent_state").Scan(&id); err != nil {
			t.Fatal(err)
		}
		if err := db.InTx(ctx, func(tx *sql.Tx) error { _, err := consent.Erase(ctx, tx, key, alice, t0.Add(time.Hour)); return err }); err != nil {
			t.Fatal(err)
		}
		var n int
		var erased int64
		if err := db.R.QueryRow("SELECT COUNT(*), MAX(event_id) FROM consent_state_erased").Scan(&n, &erased); err != nil || n != 1 || erased != id {
			t.Fatalf("consent_state_erased: %d rows, event %d (want %d), %v", n, erased, id, err)
		}
	})
}

func mustRecordWith(tb testing.TB, l *consent.Ledger, q store.Querier, e consent.Event) {
	tb.Helper()
	if err := l.Record(context.Background(), q, e); err != nil {
		tb.Fatalf("record: %v", err)
	}
}

func TestSuppressionHasher(t *testing.T) {
	h := consent.NewSuppressionHasher(key)
	for _, p := range []consent.Person{alice, bob, wm, alice} {
		if got, want := h.Hash(p), consent.SuppressionHash(key, p); got != want {
			t.Errorf("%s: %s, want %s", p, got, want)
		}
	}
}

// sameStates fails unless Ledger.CurrentStates gives every person of
// persons, for each purpose on their channel, at at, the state States
// gives (as far as a consent_state row keeps it).
func sameStates(t *testing.T, db *store.DB, l *consent.Ledger, persons []consent.Person, chOf func(consent.Person) consent.Channel,
	purposes []consent.Purpose, at time.Time, what string) {
	t.Helper()
	ctx := context.Background()
	l = l.WithDialect(db.Dialect)
	type sum struct {
		Status       consent.Status
		Scope        *consent.Scope
		Suppressed   bool
		SuppressedAt time.Time
		Last         bool
		ID           int64
		Action       consent.Action
		Source       consent.Source
		Occurred     time.Time
		Received     time.Time
		Permits      bool
	}
	of := func(st consent.State) sum {
		s := sum{Status: st.Status, Scope: st.Scope, Suppressed: st.Suppressed, SuppressedAt: st.SuppressedAt.UTC(), Last: st.Last != nil, Permits: st.Permits()}
		if st.Last != nil {
			s.ID, s.Action, s.Source, s.Occurred, s.Received = st.Last.ID, st.Last.Action, st.Last.Source, st.Last.OccurredAt.UTC(), st.Last.ReceivedAt.UTC()
		}
		return s
	}
	for _, pu := range purposes {
		byCh := map[consent.Channel][]consent.Person{}
		for _, p := range persons {
			byCh[chOf(p)] = append(byCh[chOf(p)], p)
		}
		for ch, ps := range byCh {
			want, err := l.States(ctx, ps, pu, ch, at)
			if err != nil {
				t.Fatal(err)
			}
			got, err := l.CurrentStates(ctx, ps, pu, ch, at)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%s: %d states from consent_state, %d folded", what, len(got), len(want))
			}
			for p, w := range want {
				if g, w := of(got[p]), of(w); !reflect.DeepEqual(g, w) {
					t.Fatalf("%s, %s %s/%s at %s: from consent_state\n%+v\nfolded\n%+v", what, p, pu, ch, ts(at), g, w)
				}
			}
		}
	}
}
