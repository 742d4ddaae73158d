package gate

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/store"
	"github.com/kith-scrm/kith/internal/store/storetest"
)

// TestCacheDecidesAsTheDatabase builds random consent, suppression, send
// and policy state, changing it between rounds, and checks that the
// in-memory path decides every request as the database path does.
func TestCacheDecidesAsTheDatabase(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		g, clock := mustGate(t, db, wed10)
		ledger := consent.NewLedger(db.R, testKey).OnChange(g.ConsentChanged)
		rng := rand.New(rand.NewPCG(11, uint64(len(db.Dialect))))
		var persons []consent.Person
		for i := range 24 {
			if i%3 == 0 {
				persons = append(persons, consent.ExternalUser(fmt.Sprintf("wmProp%02d", i)))
			} else {
				persons = append(persons, consent.Phone(fmt.Sprintf("1380000%04d", i)))
			}
		}
		chOf := func(p consent.Person) consent.Channel {
			if p.Kind == consent.KindPhone {
				return consent.ChannelSMS
			}
			return consent.ChannelWeCom
		}
		n, err := ledger.Notice(ctx, consent.Marketing, 0)
		if err != nil {
			t.Fatal(err)
		}
		sent := 0
		for round := range 6 {
			// Change the state.
			for range 12 {
				p := persons[rng.IntN(len(persons))]
				ch := chOf(p)
				at := clock.Now().Add(-time.Duration(rng.IntN(120)) * time.Minute)
				err := db.InTx(ctx, func(tx *sql.Tx) error {
					switch rng.IntN(6) {
					case 0, 1:
						e := consent.Event{Person: p, Purpose: consent.Marketing, Channel: ch, Action: consent.Grant, Source: consent.SourceCustomer,
							Evidence: consent.Evidence{consent.EvidenceURL: "https://shop.example/c"}, NoticeVersion: n.Version, NoticeHash: n.TextHash,
							RecordedBy: "web", OccurredAt: at, ReceivedAt: clock.Now()}
						switch rng.IntN(4) {
						case 0:
							e.Scope = &consent.Scope{MaxPerWeek: 1 + rng.IntN(2)}
						case 1:
							e.Scope = &consent.Scope{Types: []string{"promotion"}}
						case 2:
							v := clock.Now().Add(time.Duration(rng.IntN(3)-1) * time.Hour)
							if v.After(at) {
								e.Scope = &consent.Scope{ValidUntil: &v}
							}
						}
						return ledger.Record(ctx, tx, e)
					case 2:
						_, err := ledger.OptOut(ctx, tx, consent.OptOutRequest{Person: p, Channel: ch, Source: consent.SourceOneClick,
							Evidence: consent.Evidence{consent.EvidenceURL: "https://x.example/u"}, RecordedBy: "web", OccurredAt: at, ReceivedAt: clock.Now()})
						return err
					case 3:
						return ledger.Suppress(ctx, tx, p, consent.Marketing, ch, "complaint", clock.Now())
					case 4:
						_, err := ledger.Erase(ctx, tx, p, clock.Now())
						return err
					default:
						sent++
						_, err := tx.ExecContext(ctx, "INSERT INTO gate_sends (permit_id, person_kind, person_key, channel, class, at) VALUES ($1, $2, $3, $4, 'marketing', $5)",
							fmt.Sprintf("prop-%d", sent), string(p.Kind), p.Key, string(ch), clock.Now())
						return err
					}
				})
				if err != nil && !strings.Contains(err.Error(), "nothing to withdraw") {
					t.Fatal(err)
				}
			}
			if round == 3 {
				if err := g.SetPolicy(ctx, Policy{Channel: consent.ChannelSMS, CapDay: 2, CapWeek: 3, QuietStart: 21 * 60, QuietEnd: 8 * 60}); err != nil {
					t.Fatal(err)
				}
			}
			// Sends written here are seen within tailEvery, as another
			// node's would be.
			time.Sleep(2 * tailEvery)
			// The same requests, both ways.
			var reqs []Request
			for range 40 {
				p := persons[rng.IntN(len(persons))]
				r := mktSMS(p)
				if p.Kind == consent.KindExternalUser {
					r = Request{Person: p, Channel: consent.ChannelWeCom, Class: Marketing, Content: Content{Body: "春季新品"}}
				}
				if rng.IntN(3) == 0 {
					r.Type = "research"
				}
				reqs = append(reqs, r)
			}
			fromDB, err := g.DecideBatchFromDatabase(ctx, reqs)
			if err != nil {
				t.Fatal(err)
			}
			cached, err := g.DecideBatch(ctx, reqs)
			if err != nil {
				t.Fatal(err)
			}
			for i := range reqs {
				if fromDB[i].Reason != cached[i].Reason || fromDB[i].ConsentEventID != cached[i].ConsentEventID || fromDB[i].Message != cached[i].Message {
					t.Fatalf("round %d, %s: database %s (event %d, %q), cache %s (event %d, %q)", round, reqs[i].Person,
						fromDB[i].Reason, fromDB[i].ConsentEventID, fromDB[i].Message, cached[i].Reason, cached[i].ConsentEventID, cached[i].Message)
				}
			}
			clock.Add(7 * time.Hour)
		}
	})
}

// A send committed late (stamped before the latest one the gate has seen)
// is counted at the next sweep (SQLite: at the next refresh), and once.
func TestLateSendCounted(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		g, clock := mustGate(t, db, wed10)
		p := consent.Phone("13800000001")
		mustGrant(t, db, p, consent.ChannelSMS, wed10.Add(-time.Hour), &consent.Scope{MaxPerWeek: 1})
		q := consent.Phone("13800000002")
		send := func(id string, who consent.Person, at time.Time) {
			storetest.MustExec(t, db, "INSERT INTO gate_sends (permit_id, person_kind, person_key, channel, class, at) VALUES ($1, $2, $3, 'sms', 'marketing', $4)",
				id, string(who.Kind), who.Key, at)
		}
		send("seen", q, clock.Now())
		if d, _ := g.Decide(ctx, mktSMS(p)); !d.Allowed {
			t.Fatalf("before: %s", d.Reason)
		}
		send("late", p, clock.Now().Add(-30*time.Second)) // committed after the gate read "seen"
		g.ConsentChanged()
		d, _ := g.Decide(ctx, mktSMS(p))
		if db.Dialect == store.SQLite {
			// Tailed by rowid: counted at the next refresh, sweep or not.
			if d.Reason != ConsentFrequency {
				t.Fatalf("SQLite, the late send at the next refresh: %s, want CONSENT_FREQUENCY", d.Reason)
			}
		} else if !d.Allowed {
			t.Fatalf("the late send is not expected before the sweep: %s", d.Reason)
		}
		g.cache.tailMu.Lock()
		g.cache.sweptAt = g.cache.mono() - int64(sweepEvery) // as if sweepEvery had passed
		g.cache.tailMu.Unlock()
		g.ConsentChanged()
		if d, _ := g.Decide(ctx, mktSMS(p)); d.Reason != ConsentFrequency {
			t.Fatalf("after the sweep: %s, want CONSENT_FREQUENCY", d.Reason)
		}
		g.ConsentChanged()
		if d, _ := g.Decide(ctx, mktSMS(p)); d.Reason != ConsentFrequency || len(g.cache.sends.get(sendKey{p, consent.ChannelSMS}, new([1]int64))) != 1 {
			t.Fatalf("counted twice? %s %v", d.Reason, g.cache.sends.get(sendKey{p, consent.ChannelSMS}, new([1]int64)))
		}
		for range 3 { // refreshes between sweeps read nothing twice either
			g.ConsentChanged()
			g.Decide(ctx, mktSMS(q))
		}
		if n := len(g.cache.sends.get(sendKey{q, consent.ChannelSMS}, new([1]int64))); n != 1 {
			t.Fatalf("q's send counted %d times", n)
		}
	})
}

// A stale cache may allow, but Consume re-checks the database: it never
// lets through a send the database refuses.
func TestStaleCacheCannotSend(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		g, clock := mustGate(t, db, wed10)
		p, q := consent.Phone("13800000001"), consent.Phone("13800000002")
		mustGrant(t, db, p, consent.ChannelSMS, wed10.Add(-time.Hour), nil)
		mustGrant(t, db, q, consent.ChannelSMS, wed10.Add(-time.Hour), &consent.Scope{MaxPerWeek: 1})
		if d, _ := g.Decide(ctx, mktSMS(p)); !d.Allowed {
			t.Fatalf("decide: %+v", d)
		}
		g.cache.paused.Store(true) // the cache misses what follows
		clock.Add(time.Minute)
		mustEvent(t, db, withdrawal(p, consent.ChannelSMS, consent.Withdraw, clock.Now()))
		clock.Add(time.Second)
		d, err := g.Decide(ctx, mktSMS(p))
		if err != nil || !d.Allowed {
			t.Fatalf("the stale cache should still allow: %+v %v", d, err)
		}
		var r *Refusal
		if err := mustConsume(t, db, g, d.Permit); !errors.As(err, &r) || r.Reason != ConsentWithdrawn {
			t.Fatalf("consume on a stale allow: %v, want CONSENT_WITHDRAWN", err)
		}
		// Caps: a send the cache does not know of.
		a, _ := g.Decide(ctx, mktSMS(q))
		b, _ := g.Decide(ctx, mktSMS(q))
		if err := mustConsume(t, db, g, a.Permit); err != nil {
			t.Fatal(err)
		}
		c, _ := g.Decide(ctx, mktSMS(q))
		if !c.Allowed {
			t.Fatalf("the paused cache should not count the send: %s", c.Reason)
		}
		for _, pm := range []Permit{b.Permit, c.Permit} {
			if err := mustConsume(t, db, g, pm); !errors.As(err, &r) || r.Reason != ConsentFrequency {
				t.Fatalf("consume over the cap: %v, want CONSENT_FREQUENCY", err)
			}
		}
		var sends int
		db.R.QueryRow("SELECT count(*) FROM gate_sends").Scan(&sends)
		if sends != 1 {
			t.Fatalf("%d sends, want 1", sends)
		}
		// Once refreshed, the cache refuses too.
		g.cache.paused.Store(false)
		g.ConsentChanged()
		if d, _ := g.Decide(ctx, mktSMS(p)); d.Reason != ConsentWithdrawn {
			t.Errorf("after refresh: %s", d.Reason)
		}
		if d, _ := g.Decide(ctx, mktSMS(q)); d.Reason != ConsentFrequency {
			t.Errorf("after refresh: %s", d.Reason)
		}
	})
}

// A change committed by this process takes effect at the next decision
// (the ledger tells the gate); one committed elsewhere within tailEvery;
// an erasure drops the person's state.
func TestChangesTakeEffect(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		g, clock := mustGate(t, db, wed10)
		ledger := consent.NewLedger(db.R, testKey).OnChange(g.ConsentChanged)
		p, q := consent.Phone("13800000001"), consent.Phone("13800000002")
		if d, _ := g.Decide(ctx, mktSMS(p)); d.Reason != NoConsent {
			t.Fatalf("before: %s", d.Reason)
		}
		n, _ := ledger.Notice(ctx, consent.Marketing, 0)
		grant := func(p consent.Person) consent.Event {
			return consent.Event{Person: p, Purpose: consent.Marketing, Channel: consent.ChannelSMS, Action: consent.Grant, Source: consent.SourceCustomer,
				Evidence: consent.Evidence{consent.EvidenceURL: "https://shop.example/c"}, NoticeVersion: n.Version, NoticeHash: n.TextHash,
				RecordedBy: "web", OccurredAt: clock.Now(), ReceivedAt: clock.Now()}
		}
		if err := ledger.Record(ctx, db.W, grant(p)); err != nil {
			t.Fatal(err)
		}
		if d, _ := g.Decide(ctx, mktSMS(p)); d.Reason != OK {
			t.Fatalf("right after the grant: %s", d.Reason)
		}
		// Another node's ledger (no hook): seen within tailEvery.
		other := consent.NewLedger(db.R, testKey)
		if err := other.Record(ctx, db.W, grant(q)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * tailEvery)
		if d, _ := g.Decide(ctx, mktSMS(q)); d.Reason != OK {
			t.Fatalf("a grant from elsewhere: %s", d.Reason)
		}
		if _, err := other.OptOut(ctx, db.W, consent.OptOutRequest{Person: q, Channel: consent.ChannelSMS, Source: consent.SourceOptOutReply,
			Evidence: consent.Evidence{consent.EvidenceText: "TD", consent.EvidenceMessageID: "mo-1"}, RecordedBy: "sms", OccurredAt: clock.Now(), ReceivedAt: clock.Now()}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * tailEvery)
		if d, _ := g.Decide(ctx, mktSMS(q)); d.Reason != ConsentWithdrawn {
			t.Fatalf("an opt-out from elsewhere: %s", d.Reason)
		}
		if err := db.InTx(ctx, func(tx *sql.Tx) error { _, err := consent.Erase(ctx, tx, testKey, p, clock.Now()); return err }); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * tailEvery)
		if d, _ := g.Decide(ctx, mktSMS(p)); d.Reason != NoConsent && d.Reason != Suppressed {
			t.Fatalf("after erasure: %s", d.Reason)
		}
		if _, ok := g.cache.states.get(stateKey{p, consent.Marketing, consent.ChannelSMS}); ok {
			t.Error("the erased person's state is still cached")
		}
	})
}

// Concurrent Decide calls share writes; every decision is recorded once,
// with its own id, and explains itself.
func TestGroupCommit(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		g, _ := mustGate(t, db, wed10)
		p := consent.Phone("13800000001")
		mustGrant(t, db, p, consent.ChannelSMS, wed10.Add(-time.Hour), nil)
		const n = 64
		ds := make([]Decision, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := mktSMS(p)
				if i%2 == 1 {
					r.Person = consent.Phone(fmt.Sprintf("139%08d", i))
				}
				r.Campaign = fmt.Sprintf("c%d", i)
				ds[i], errs[i] = g.Decide(ctx, r)
			}()
		}
		wg.Wait()
		ids := map[string]bool{}
		for i, d := range ds {
			if errs[i] != nil || d.ID == "" || ids[d.ID] {
				t.Fatalf("decision %d: %+v %v", i, d, errs[i])
			}
			ids[d.ID] = true
			want := OK
			if i%2 == 1 {
				want = NoConsent
			}
			if d.Reason != want {
				t.Errorf("decision %d: %s, want %s", i, d.Reason, want)
			}
			ex, err := g.Explain(ctx, d.ID)
			if err != nil || ex.Campaign != fmt.Sprintf("c%d", i) || ex.Reason != d.Reason {
				t.Errorf("explain %d: %+v %v", i, ex, err)
			}
		}
		var rows, batches int
		db.R.QueryRow("SELECT count(*) FROM gate_decisions").Scan(&rows)
		db.R.QueryRow("SELECT count(*) FROM gate_batches").Scan(&batches)
		if rows != n || batches > n {
			t.Errorf("%d decisions in %d batches, want %d", rows, batches, n)
		}
		t.Logf("%d decisions written in %d batches", rows, batches)
	})
}

// gate_decisions, the view, shows each decision's columns.
func TestDecisionsView(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		g, _ := mustGate(t, db, wed10)
		p := consent.Phone("13800000001")
		mustGrant(t, db, p, consent.ChannelSMS, wed10.Add(-time.Hour), nil)
		r := mktSMS(p)
		r.Campaign, r.Sender = `spring "quoted" \ 春`, "alice\n"
		ds, err := g.DecideBatch(ctx, []Request{r, mktSMS(consent.Phone("13900000000"))})
		if err != nil {
			t.Fatal(err)
		}
		var id, kind, key, campaign, sender, reason, detail string
		var allowed bool
		var event sql.NullInt64
		var at time.Time
		if err := db.R.QueryRowContext(ctx, "SELECT id, at, person_kind, person_key, campaign, sender, allowed, reason, detail, consent_event_id FROM gate_decisions WHERE id = $1",
			ds[0].ID).Scan(&id, &at, &kind, &key, &campaign, &sender, &allowed, &reason, &detail, &event); err != nil {
			t.Fatal(err)
		}
		if kind != "phone" || key != p.Key || campaign != r.Campaign || sender != r.Sender || !allowed || reason != "OK" || detail != "Allowed." ||
			event.Int64 != ds[0].ConsentEventID || !at.Equal(wed10) {
			t.Errorf("row %s %s %s %s %q %q %v %s %q %v %s", id, at, kind, key, campaign, sender, allowed, reason, detail, event, wed10)
		}
		if err := db.R.QueryRowContext(ctx, "SELECT allowed, reason, consent_event_id FROM gate_decisions WHERE id = $1", ds[1].ID).Scan(&allowed, &reason, &event); err != nil ||
			allowed || reason != string(NoConsent) || event.Valid {
			t.Errorf("refusal row: %v %s %v %v", allowed, reason, event, err)
		}
	})
}

// A permit whose contents were changed no longer matches its token.
func TestTamperedPermit(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		g, _ := mustGate(t, db, wed10)
		p := consent.Phone("13800000001")
		mustGrant(t, db, p, consent.ChannelSMS, wed10.Add(-time.Hour), nil)
		d, _ := g.Decide(ctx, mktSMS(p))
		for name, change := range map[string]func(pm *permit){
			"person":  func(pm *permit) { pm.person = consent.Phone("13800000002") },
			"class":   func(pm *permit) { pm.class = Service },
			"expires": func(pm *permit) { pm.expires = pm.expires.Add(time.Hour) },
			"id":      func(pm *permit) { pm.id = "d1-1" },
		} {
			pm := *d.Permit.p
			change(&pm)
			var r *Refusal
			if err := mustConsume(t, db, g, Permit{&pm}); !errors.As(err, &r) || r.Reason != PermitForged {
				t.Errorf("%s changed: %v, want PERMIT_FORGED", name, err)
			}
		}
		// Another gate (another key) did not issue it.
		other := New(db, []byte("another-instance-key-0123456789ab"), g.clock)
		var r *Refusal
		if err := mustConsume(t, db, other, d.Permit); !errors.As(err, &r) || r.Reason != PermitForged {
			t.Errorf("another gate's permit: %v", err)
		}
		if err := mustConsume(t, db, g, d.Permit); err != nil {
			t.Errorf("the real permit: %v", err)
		}
	})
}

// PermitsFor lists used and still usable permits, newest first, and not
// other persons' or refusals.
func TestPermitsFor(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		g, clock := mustGate(t, db, wed10)
		p, q := consent.Phone("13800000001"), consent.Phone("13800000011") // q's key contains p's? no: distinct numbers
		for _, x := range []consent.Person{p, q} {
			mustGrant(t, db, x, consent.ChannelSMS, wed10.Add(-time.Hour), nil)
		}
		first, _ := g.DecideBatch(ctx, []Request{mktSMS(p), mktSMS(q), {Person: p, Channel: consent.ChannelSMS, Class: Marketing, Content: Content{Body: "x"}}})
		if err := mustConsume(t, db, g, first[0].Permit); err != nil {
			t.Fatal(err)
		}
		clock.Add(time.Hour)
		second, _ := g.Decide(ctx, mktSMS(p))
		got, err := g.PermitsFor(ctx, p)
		if err != nil || len(got) != 2 || got[0].DecisionID != second.ID || got[1].DecisionID != first[0].ID || got[1].ConsumedAt == nil || got[0].ConsumedAt != nil {
			t.Fatalf("permits for p: %+v %v", got, err)
		}
		// After expiry only the used one is left.
		clock.Add(2 * PermitTTL)
		got, err = g.PermitsFor(ctx, p)
		if err != nil || len(got) != 1 || got[0].DecisionID != first[0].ID || got[0].ConsentEvent == nil {
			t.Fatalf("permits for p after expiry: %+v %v", got, err)
		}
	})
}

func TestCollector(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		g, _ := mustGate(t, db, wed10)
		g.DecideBatch(context.Background(), []Request{mktSMS(consent.Phone("13800000001")), {Channel: "fax"}})
		if c := g.CountsByChannel(); c[CountKey{consent.ChannelSMS, NoConsent}] != 1 || c[CountKey{"fax", InvalidRequest}] != 1 {
			t.Errorf("counts by channel %v", c)
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(g.Collector())
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		found := map[string]*dto.MetricFamily{}
		for _, mf := range mfs {
			found[mf.GetName()] = mf
		}
		if mf := found["kith_gate_decisions_total"]; mf == nil || len(mf.Metric) != 2 {
			t.Errorf("decisions metric: %v", mf)
		}
		if mf := found["kith_gate_call_duration_seconds"]; mf == nil || mf.Metric[0].GetHistogram().GetSampleCount() != 1 {
			t.Errorf("latency metric: %v", mf)
		}
	})
}

// FuzzAppendString checks that every valid UTF-8 string encodes as JSON
// that decodes back to it.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `"quoted" \ back`, "tab\tnl\ncr\r", "\x00\x1f\x7f", "春季新品", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		s = clip(s)
		var back string
		if err := json.Unmarshal(appendString(nil, s), &back); err != nil || back != s {
			t.Fatalf("%q: decoded %q, %v", s, back, err)
		}
	})
}

// The state table keeps keys apart, also when their first hashes collide,
// and drops the entries of erased events.
func TestStateTable(t *testing.T) {
	tab := newStateTable()
	key := func(i int) stateKey {
		return stateKey{consent.Phone(fmt.Sprintf("139%08d", i)), consent.Marketing, consent.ChannelSMS}
	}
	for i := range 1000 {
		tab.put(key(i), entry{eventID: int64(i)})
	}
	// Force a collision: a key whose first hash is another's.
	odd := stateKey{consent.ExternalUser("wmOdd"), consent.Profiling, consent.ChannelWeCom}
	shareFirstHash(tab, odd, key(7))
	tab.put(odd, entry{eventID: 5000})
	if e, ok := tab.get(odd); !ok || e.eventID != 5000 {
		t.Fatalf("odd: %+v %v", e, ok)
	}
	if _, ok := tab.overflow[odd]; !ok {
		t.Fatal("the colliding key should have gone to the overflow")
	}
	if tab.len() != 1001 {
		t.Fatalf("%d entries, want 1001", tab.len())
	}
	for i := range 1000 {
		if e, ok := tab.get(key(i)); !ok || e.eventID != int64(i) {
			t.Fatalf("key %d: %+v %v", i, e, ok)
		}
	}
	if _, ok := tab.get(stateKey{consent.Phone("13900000000"), consent.Marketing, consent.ChannelEmail}); ok {
		t.Fatal("a key never put was found")
	}
	tab.hash = nil
	k9 := key(9)
	if n := testing.AllocsPerRun(100, func() { tab.get(k9) }); n != 0 {
		t.Errorf("a lookup allocates %v times", n)
	}
	tab.put(key(3), entry{eventID: 3000})
	tab.deleteEvents(map[int64]bool{3000: true, 10: true, 5000: true})
	for _, i := range []int{3, 10} {
		if _, ok := tab.get(key(i)); ok {
			t.Errorf("key %d survived its erasure", i)
		}
	}
	if _, ok := tab.get(odd); ok {
		t.Error("the overflow key survived its erasure")
	}
	for i := range 1000 {
		if e, ok := tab.get(key(i)); i != 3 && i != 10 && (!ok || e.eventID != int64(i)) {
			t.Fatalf("key %d after the erasure: %+v %v", i, e, ok)
		}
	}
	tab.put(key(2000), entry{eventID: 2000}) // reuses a freed slot
	if e, ok := tab.get(key(2000)); !ok || e.eventID != 2000 || tab.slots.n != 1000 || tab.len() != 999 {
		t.Errorf("after reuse: %+v %v, %d slots, %d entries", e, ok, tab.slots.n, tab.len())
	}
}

// shareFirstHash makes tab hash k with like's first hash (its second
// stays its own).
func shareFirstHash(tab *stateTable, k, like stateKey) {
	h, _ := hashTwice(tab.seed1, tab.seed2, like)
	tab.hash = func(x stateKey) (uint64, uint64) {
		h1, h2 := hashTwice(tab.seed1, tab.seed2, x)
		if x == k {
			h1 = h
		}
		return h1, h2
	}
}

// A key in the overflow (another key held its first hash) takes a slot of
// its own once that key is erased and it is put again; its overflow entry
// goes, so erasing its new event leaves nothing of it behind.
func TestStateTableOverflowMoves(t *testing.T) {
	tab := newStateTable()
	a := stateKey{consent.Email("a@x.example"), consent.Marketing, consent.ChannelEmail}
	b := stateKey{consent.Email("b@x.example"), consent.Marketing, consent.ChannelEmail}
	shareFirstHash(tab, b, a)
	tab.put(a, entry{eventID: 1})
	tab.put(b, entry{eventID: 2})
	if len(tab.overflow) != 1 {
		t.Fatalf("b should be in the overflow: %d there", len(tab.overflow))
	}
	tab.deleteEvents(map[int64]bool{1: true})
	tab.put(b, entry{eventID: 3})
	if e, ok := tab.get(b); !ok || e.eventID != 3 || len(tab.overflow) != 0 || tab.len() != 1 {
		t.Fatalf("b put again: %+v %v, %d in the overflow, %d entries", e, ok, len(tab.overflow), tab.len())
	}
	tab.deleteEvents(map[int64]bool{3: true})
	if e, ok := tab.get(b); ok || tab.len() != 0 {
		t.Errorf("b after its erasure: %+v %v, %d entries", e, ok, tab.len())
	}
}

// An entry comes back whole from its slot and the rare fields kept aside,
// and the fields aside go when the slot's entry no longer has them or the
// slot is freed; the slots stay free of pointers for the collector.
func TestStateTableRareFields(t *testing.T) {
	if reflect.TypeFor[slot]().NumField() != 5 {
		t.Fatal("slot's fields changed: check this test")
	}
	for i := range reflect.TypeFor[slot]().NumField() {
		if f := reflect.TypeFor[slot]().Field(i); f.Type.Kind() != reflect.Uint64 && f.Type.Kind() != reflect.Int64 && f.Type.Kind() != reflect.Uint32 && f.Type.Kind() != reflect.Uint8 {
			t.Errorf("slot.%s is a %s: a slot holds no pointers", f.Name, f.Type)
		}
	}
	tab := newStateTable()
	k := stateKey{consent.Email("a@x.example"), consent.Marketing, consent.ChannelEmail}
	scope := &consent.Scope{}
	cases := []entry{
		{eventID: 1, receivedAt: 100, action: actionGrant},
		{eventID: 2, receivedAt: 200, validUntil: 900, action: actionGrant, customer: true},
		{eventID: 3, receivedAt: 300, suppressedAt: 250, suppressed: true, customer: true, action: actionGrant},
		{eventID: 4, receivedAt: 400, scope: scope, action: actionWithdraw},
		{eventID: 5, receivedAt: 500, action: actionRefuse, suppressed: true},
		{eventID: 6, receivedAt: 600, action: actionGrant},
	}
	for _, e := range cases {
		tab.put(k, e)
		want := e
		if !e.suppressed {
			want.receivedAt = 0 // read only for a suppressed entry
		}
		if got, ok := tab.get(k); !ok || got != want {
			t.Errorf("put %+v, got %+v %v", e, got, ok)
		}
		if rare := e.validUntil != 0 || e.suppressed || e.scope != nil; (len(tab.rare) == 1) != rare {
			t.Errorf("after %+v: %d rare entries kept", e, len(tab.rare))
		}
	}
	tab.put(k, entry{eventID: 7, validUntil: 1})
	tab.deleteEvents(map[int64]bool{7: true})
	if len(tab.rare) != 0 || tab.len() != 0 {
		t.Errorf("after the erasure: %d rare entries, %d entries", len(tab.rare), tab.len())
	}
	// The view still tells a customer's own grant after a suppression.
	c := &cache{states: newStateTable()}
	c.states.put(k, entry{eventID: 8, receivedAt: 300, suppressedAt: 250, suppressed: true, customer: true, action: actionGrant})
	if v := c.view(k, 1000, &worker{}); !v.permits || !v.suppressed {
		t.Errorf("a grant after the suppression: %+v", v)
	}
	c.states.put(k, entry{eventID: 9, receivedAt: 200, suppressedAt: 250, suppressed: true, customer: true, action: actionGrant})
	if v := c.view(k, 1000, &worker{}); v.permits {
		t.Errorf("a grant before the suppression permits: %+v", v)
	}
	c.states.put(k, entry{eventID: 10, receivedAt: 200, validUntil: 500, action: actionGrant})
	if v := c.view(k, 1000, &worker{}); v.permits || v.status != consent.StatusExpired {
		t.Errorf("an expired grant: %+v", v)
	}
}

// The open index finds every slot through growth and a rebuild, also
// when the hashes crowd into a few positions.
func TestOpenIndex(t *testing.T) {
	for _, crowded := range []bool{false, true} { // crowded: the hashes' low bits are 0–2 only
		var x openIndex
		hs := make(hashList, 0, 5000)
		at := &hs
		for i := range 5000 {
			h := uint64(i)*0x9E3779B97F4A7C15 + 1
			if crowded {
				h = uint64(i)<<20 | uint64(i%3)
			}
			if _, ok := x.find(h, at); ok {
				t.Fatalf("crowded %v: hash %d found before it was put", crowded, i)
			}
			hs = append(hs, h)
			x.insert(h, int32(i), at)
		}
		if x.n != 5000 || len(x.pos)*3 < x.n*4 {
			t.Fatalf("crowded %v: %d indexed in %d positions", crowded, x.n, len(x.pos))
		}
		for i, h := range hs {
			if s, ok := x.find(h, at); !ok || s != int32(i) {
				t.Fatalf("crowded %v: hash %d found at %d, %v", crowded, i, s, ok)
			}
		}
		// Keep the even slots only.
		x.rebuild(2500, func(place func(uint64, int32)) {
			for i := 0; i < len(hs); i += 2 {
				place(hs[i], int32(i))
			}
		})
		for i, h := range hs {
			s, ok := x.find(h, at)
			if ok != (i%2 == 0) || ok && s != int32(i) {
				t.Fatalf("crowded %v after the rebuild: hash %d at %d, %v", crowded, i, s, ok)
			}
		}
	}
}

// Slots keep their values across chunks, and a slot's address stays put
// as the table grows (nothing is copied).
func TestChunked(t *testing.T) {
	var c chunked[slot]
	n := int32(2*chunkSize + 17)
	first := c.at(c.push(slot{}))
	for i := int32(1); i < n; i++ {
		if got := c.push(slot{h1: uint64(i), eventID: -int64(i)}); got != i {
			t.Fatalf("push %d returned slot %d", i, got)
		}
	}
	if c.n != n || len(c.chunks) != 3 {
		t.Fatalf("%d slots in %d chunks", c.n, len(c.chunks))
	}
	for i := range n {
		if s := c.at(i); s.h1 != uint64(i) || s.eventID != -int64(i) {
			t.Fatalf("slot %d: %+v", i, *s)
		}
	}
	if first != c.at(0) {
		t.Error("slot 0 moved as the table grew")
	}
}

// hashList is the first hashes of slots 0, 1, …
type hashList []uint64

func (l *hashList) h1At(i int32) uint64 { return (*l)[i] }

// TestOpenIndexIsSmall: for a million keys the index takes 8 MB (4 bytes a
// position, at most three quarters used); a Go map from the first hash to
// the slot took about 28 (logged as measured, for comparison: other tests'
// goroutines make a heap measurement too unsteady to assert on).
func TestOpenIndexIsSmall(t *testing.T) {
	const n = 1 << 20
	hs := make(hashList, n)
	for i := range hs {
		hs[i] = uint64(i) * 0x9E3779B97F4A7C15
	}
	x := &openIndex{}
	for i, h := range hs {
		x.insert(h, int32(i), &hs)
	}
	size := cap(x.pos) * int(unsafe.Sizeof(x.pos[0]))
	if size > 8<<20 || x.n != n {
		t.Fatalf("a million keys take %d bytes (%d indexed)", size, x.n)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m := make(map[uint64]int32)
	for i, h := range hs {
		m[h] = int32(i)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(m)
	t.Logf("a million keys: open index %d MB, a Go map about %d MB", size>>20, (int64(after.HeapAlloc)-int64(before.HeapAlloc))>>20)
}

// The send table keeps each person and channel's sends apart, appends in
// order and drops the sends before the horizon.
func TestSendTable(t *testing.T) {
	tab := newSendTable()
	var one [1]int64
	key := func(i int, ch consent.Channel) sendKey {
		return sendKey{consent.Email(fmt.Sprintf("c%d@example.com", i)), ch}
	}
	for i := range 1000 {
		tab.add(key(i, consent.ChannelEmail), 0, int64(i))
		tab.add(key(i, consent.ChannelSMS), 0, int64(-i))
	}
	tab.add(key(5, consent.ChannelEmail), 0, 50, 60)
	if got := tab.get(key(5, consent.ChannelEmail), &one); !slices.Equal(got, []int64{5, 50, 60}) {
		t.Errorf("key 5: %v", got)
	}
	tab.add(key(5, consent.ChannelEmail), 50, 70) // 5 is before the horizon
	if got := tab.get(key(5, consent.ChannelEmail), &one); !slices.Equal(got, []int64{50, 60, 70}) {
		t.Errorf("key 5 after the horizon: %v", got)
	}
	for i := range 1000 {
		if i == 5 {
			continue
		}
		if got := tab.get(key(i, consent.ChannelEmail), &one); !slices.Equal(got, []int64{int64(i)}) {
			t.Fatalf("key %d email: %v", i, got)
		}
		if got := tab.get(key(i, consent.ChannelSMS), &one); !slices.Equal(got, []int64{int64(-i)}) {
			t.Fatalf("key %d sms: %v", i, got)
		}
	}
	if tab.get(key(1000, consent.ChannelEmail), &one) != nil || tab.len() != 2000 {
		t.Errorf("an unknown key has sends, or %d keys", tab.len())
	}
	tab.add(key(5, consent.ChannelEmail), 65, 80)
	if got := tab.get(key(5, consent.ChannelEmail), &one); !slices.Equal(got, []int64{70, 80}) {
		t.Errorf("key 5 after a second horizon: %v", got)
	}
	tab.add(key(5, consent.ChannelEmail), 1000, 95) // back to one send
	if got := tab.get(key(5, consent.ChannelEmail), &one); !slices.Equal(got, []int64{95}) || len(tab.more) != 0 {
		t.Errorf("key 5 after a third horizon: %v (%d keys with more)", got, len(tab.more))
	}
	// A key whose first hash is another's goes to the overflow.
	odd := sendKey{consent.ExternalUser("wmOdd"), consent.ChannelWeCom}
	h1, _ := tab.hashes(key(7, consent.ChannelEmail))
	tab.hash = func(k sendKey) (uint64, uint64) {
		a, b := sendHashTwice(tab.seed1, tab.seed2, k)
		if k == odd {
			a = h1
		}
		return a, b
	}
	if tab.get(odd, &one) != nil {
		t.Fatal("the colliding key has sends before any was added")
	}
	tab.add(odd, 0, 111)
	tab.add(odd, 0, 222)
	if got := tab.get(odd, &one); !slices.Equal(got, []int64{111, 222}) || len(tab.overflow) != 1 {
		t.Errorf("odd: %v, overflow %d", got, len(tab.overflow))
	}
	if got := tab.get(key(7, consent.ChannelEmail), &one); !slices.Equal(got, []int64{7}) {
		t.Errorf("key 7 beside the collision: %v", got)
	}
	tab.hash = nil
	k9 := key(9, consent.ChannelSMS)
	if n := testing.AllocsPerRun(100, func() { tab.get(k9, &one) }); n != 0 {
		t.Errorf("a lookup allocates %v times", n)
	}
}
