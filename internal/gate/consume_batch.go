package gate

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/store"
)

// ConsumeBatch consumes permits inside q as Consume would, one after the
// other, with the same decisions and the same sends recorded, but with a
// few queries for the whole batch instead of a few per permit: the used
// permits, the consent states (from consent_state rather than the ledger's
// events: Ledger.CurrentStates), the policies and the recent sends are read
// once, and the sends are written in one INSERT. A permit
// consumed earlier in the batch counts against the caps of the ones after
// it, and a permit given twice is PERMIT_REUSED the second time, as with
// successive Consumes; a refused permit records nothing. It returns, for
// each permit, nil when it was consumed or its *Refusal. An error is for
// the whole batch: the caller must roll q back and not send.
func (g *Gate) ConsumeBatch(ctx context.Context, q store.Querier, permits []Permit) ([]error, error) {
	out := make([]error, len(permits))
	if len(permits) == 0 {
		return out, nil
	}
	now := g.clock.Now().UTC()
	tk := newTokener(g.permitKey)
	live := make([]int, 0, len(permits)) // permits with a valid token
	for i, p := range permits {
		if p.p == nil {
			out[i] = &Refusal{PermitMissing, "No permit was given: every message needs a permit from the gate."}
			continue
		}
		if subtle.ConstantTimeCompare([]byte(p.p.token), []byte(tk.token(p.p))) != 1 {
			out[i] = &Refusal{PermitForged, fmt.Sprintf("Permit %q was not issued by this gate, or was changed.", p.p.id)}
			continue
		}
		live = append(live, i)
	}
	if len(live) == 0 {
		return out, nil
	}
	if g.db.Dialect == store.Postgres {
		// As Consume: serialise consumes per person and channel, the locks
		// taken in key order so that two batches cannot deadlock.
		keys := make([]int64, 0, len(live))
		for _, i := range live {
			keys = append(keys, lockKey(permits[i].p.person, permits[i].p.channel))
		}
		slices.Sort(keys)
		keys = slices.Compact(keys)
		rows := make([][1]int64, len(keys))
		for j, k := range keys {
			rows[j][0] = k
		}
		values, err := json.Marshal(rows)
		if err != nil {
			return nil, err
		}
		// Volatile functions of the select list run after the sort.
		if _, err := q.ExecContext(ctx, "SELECT pg_advisory_xact_lock(v.c1) FROM "+g.db.Dialect.JSONValues(1, "BIGINT")+" AS v ORDER BY v.c1", string(values)); err != nil {
			return nil, fmt.Errorf("gate: consume: lock: %w", err)
		}
	}
	used, err := usedPermits(ctx, q, g.db.Dialect, permits, live)
	if err != nil {
		return nil, err
	}
	// What recheck reads, read once: consent per purpose and channel,
	// policies per channel, recent marketing sends per channel.
	type pc struct {
		purpose consent.Purpose
		channel consent.Channel
	}
	ledger := consent.NewLedger(q, g.key).WithDialect(g.db.Dialect)
	states := map[pc]map[consent.Person]consent.State{}
	policies := map[consent.Channel]Policy{}
	sends := map[consent.Channel]map[consent.Person][]int64{}
	persons := map[pc][]consent.Person{}
	markPersons := map[consent.Channel][]consent.Person{}
	for _, i := range live {
		pm := permits[i].p
		if _, ok := used[pm.id]; ok || now.After(pm.expires) {
			continue
		}
		k := pc{pm.purpose, pm.channel}
		persons[k] = append(persons[k], pm.person)
		if pm.class == Marketing {
			markPersons[pm.channel] = append(markPersons[pm.channel], pm.person)
		}
	}
	for k, ps := range persons {
		// consent_state, equal to the fold of the ledger's events in this
		// transaction (each writer of the ledger keeps it so in its own).
		m, err := ledger.CurrentStates(ctx, ps, k.purpose, k.channel, now)
		if err != nil {
			return nil, fmt.Errorf("gate: consume: consent: %w", err)
		}
		states[k] = m
	}
	since := now.AddDate(0, 0, -32)
	for ch, ps := range markPersons {
		pol, err := loadPolicy(ctx, q, ch)
		if err != nil {
			return nil, err
		}
		policies[ch] = pol
		if sends[ch], err = recentSends(ctx, q, dedupe(ps), ch, since); err != nil {
			return nil, err
		}
	}
	// Decide in order, as successive Consumes would.
	type sendKey struct {
		person  consent.Person
		channel consent.Channel
	}
	more := map[sendKey][]int64{} // marketing sends recorded earlier in this batch
	zones := map[string]*time.Location{}
	consumed := make([]int, 0, len(live))
	for _, i := range live {
		pm := permits[i].p
		if at, ok := used[pm.id]; ok {
			out[i] = &Refusal{PermitReused, fmt.Sprintf("Permit %q was already used at %s; a permit allows one message.", pm.id, at.UTC().Format(time.RFC3339))}
			continue
		}
		if now.After(pm.expires) {
			out[i] = &Refusal{PermitExpired, fmt.Sprintf("Permit %q expired at %s; ask the gate again.", pm.id, pm.expires.UTC().Format(time.RFC3339))}
			continue
		}
		st, ok := states[pc{pm.purpose, pm.channel}][pm.person]
		if !ok {
			// A person not in normal form: ask as Consume does.
			if st, err = ledger.State(ctx, pm.person, pm.purpose, pm.channel, now); err != nil {
				return nil, fmt.Errorf("gate: consume %s: consent: %w", pm.id, err)
			}
		}
		loc, ok := zones[pm.tz]
		if !ok {
			if loc, err = time.LoadLocation(pm.tz); err != nil {
				loc = DefaultLocation
			}
			zones[pm.tz] = loc
		}
		sk := sendKey{pm.person, pm.channel}
		if r := recheckWith(pm, st, policies[pm.channel], sends[pm.channel][pm.person], more[sk], now.In(loc)); r != nil {
			out[i] = r
			continue
		}
		used[pm.id] = now
		if pm.class == Marketing {
			more[sk] = append(more[sk], now.UnixMicro())
		}
		consumed = append(consumed, i)
	}
	if len(consumed) == 0 {
		return out, nil
	}
	if err := insertSends(ctx, q, g.db.Dialect, permits, consumed, now, out); err != nil {
		return nil, err
	}
	// The caps of the next decisions count these sends once they commit.
	g.cache.force()
	return out, nil
}

// recheckWith is recheck on what ConsumeBatch read: the person's consent
// state st, the channel's policy, the sends recorded before the batch and
// those recorded earlier in it, at now in the person's zone.
func recheckWith(pm *permit, st consent.State, pol Policy, sends, more []int64, at time.Time) *Refusal {
	v := viewOf(st)
	if v.suppressed && !v.permits {
		return &Refusal{Suppressed, "The person was suppressed after the permit was issued."}
	}
	if pm.class != Marketing {
		return nil
	}
	if reason, msg := consentReason(v); reason != OK {
		return &Refusal{reason, msg}
	}
	if reason, msg := typeReason(st.Scope, pm.msgType); reason != OK {
		return &Refusal{reason, msg}
	}
	if in, end := pol.quiet(at); in {
		return &Refusal{QuietHours, fmt.Sprintf("It is quiet hours for the person; send at %s or later.", end.Format("2006-01-02 15:04 MST"))}
	}
	if reason, msg := capCheck(pol, st.Scope, sends, more, at); reason != OK {
		return &Refusal{reason, msg}
	}
	return nil
}

// usedPermits returns when each permit of live that is recorded in
// gate_sends was used.
func usedPermits(ctx context.Context, q store.Querier, d store.Dialect, permits []Permit, live []int) (map[string]time.Time, error) {
	ids := make([][1]string, len(live))
	for j, i := range live {
		ids[j][0] = permits[i].p.id
	}
	values, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, "SELECT permit_id, at FROM gate_sends WHERE permit_id IN (SELECT c1 FROM "+d.JSONValues(1, "TEXT")+" AS v)", string(values))
	if err != nil {
		return nil, fmt.Errorf("gate: consume: %w", err)
	}
	defer rows.Close()
	used := make(map[string]time.Time)
	for rows.Next() {
		var id string
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			return nil, fmt.Errorf("gate: consume: %w", err)
		}
		used[id] = at
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("gate: consume: %w", err)
	}
	return used, nil
}

// insertSends records the sends of the consumed permits in one INSERT. A
// permit another sender recorded meanwhile (no row comes back for it) is
// refused as Consume refuses it.
func insertSends(ctx context.Context, q store.Querier, d store.Dialect, permits []Permit, consumed []int, now time.Time, out []error) error {
	vals := make([][5]string, len(consumed))
	for j, i := range consumed {
		pm := permits[i].p
		vals[j] = [5]string{pm.id, string(pm.person.Kind), pm.person.Key, string(pm.channel), string(pm.class)}
	}
	values, err := json.Marshal(vals)
	if err != nil {
		return err
	}
	// WHERE true: SQLite would read ON CONFLICT as a join's ON otherwise.
	rows, err := q.QueryContext(ctx, "INSERT INTO gate_sends (permit_id, person_kind, person_key, channel, class, at) SELECT v.c1, v.c2, v.c3, v.c4, v.c5, $1 FROM "+
		d.JSONValues(2, "TEXT", "TEXT", "TEXT", "TEXT", "TEXT")+" AS v WHERE true ON CONFLICT (permit_id) DO NOTHING RETURNING permit_id", now, string(values))
	if err != nil {
		return fmt.Errorf("gate: record sends: %w", err)
	}
	defer rows.Close()
	got := make(map[string]bool, len(consumed))
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("gate: record sends: %w", err)
		}
		got[id] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("gate: record sends: %w", err)
	}
	for _, i := range consumed {
		if id := permits[i].p.id; !got[id] {
			out[i] = &Refusal{PermitReused, fmt.Sprintf("Permit %q was used by another sender at the same time; a permit allows one message.", id)}
		}
	}
	return nil
}

func dedupe(ps []consent.Person) []consent.Person {
	seen := make(map[consent.Person]bool, len(ps))
	out := ps[:0:0]
	for _, p := range ps {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}
