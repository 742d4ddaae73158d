package gate

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
)

// Explanation answers "why did I get this?" (P-38) for one decision: what
// was asked, what the gate answered, the permit and the consent event
// behind it.
type Explanation struct {
	DecisionID string
	At         time.Time
	Person     consent.Person
	Channel    consent.Channel
	Purpose    consent.Purpose
	Class      Class
	Campaign   string
	Sender     string
	Allowed    bool
	Reason     Reason
	Message    string
	// Permit details; zero when the decision was a refusal.
	ExpiresAt  time.Time
	ConsumedAt *time.Time // when the message was sent
	// ConsentEvent is the event the decision rested on; nil for none (a
	// service message, or a person who never consented).
	ConsentEvent *consent.Event
}

// legacyColumns read the decisions recorded before migration 00011, one
// row each, with their permits.
const legacyColumns = `d.id, d.at, d.person_kind, d.person_key, d.channel, d.purpose, d.class, d.campaign, d.sender, d.allowed, d.reason, d.detail,
	d.consent_event_id, p.expires_at, p.consumed_at FROM gate_decisions_v1 d LEFT JOIN gate_permits p ON p.id = d.id`

// Explain returns the decision (and permit) with the given id.
func (g *Gate) Explain(ctx context.Context, id string) (Explanation, error) {
	var out []Explanation
	var err error
	if batch, index, ok := parseID(id); ok {
		var at time.Time
		var data string
		err = g.db.R.QueryRowContext(ctx, "SELECT at, data FROM gate_batches WHERE id = $1", batch).Scan(&at, &data)
		if errors.Is(err, sql.ErrNoRows) {
			return Explanation{}, kith.Errorf(kith.ENOTFOUND, "gate: no decision %q", id)
		}
		if err != nil {
			return Explanation{}, fmt.Errorf("gate: explain: %w", err)
		}
		rs, err := decodeBatch(batch, at, data, func(i int, _ []json.RawMessage) bool { return i == index })
		if err != nil {
			return Explanation{}, err
		}
		if out, err = g.explainRecorded(ctx, rs); err != nil {
			return Explanation{}, err
		}
	} else if out, err = g.explain(ctx, "d.id = $1", id); err != nil {
		return Explanation{}, err
	}
	if len(out) == 0 {
		return Explanation{}, kith.Errorf(kith.ENOTFOUND, "gate: no decision %q", id)
	}
	return out[0], nil
}

// PermitsFor returns the permits issued to a person that were used (every
// message Kith sent them through the gate) or may still be, newest first,
// each with its reason. A permit that expired unused sent nothing; its
// decision stays in gate_decisions.
func (g *Gate) PermitsFor(ctx context.Context, p consent.Person) ([]Explanation, error) {
	p, err := p.Normalize()
	if err != nil {
		return nil, err
	}
	now := g.clock.Now().UTC()
	want := map[int64]map[int]bool{} // batch → indexes
	add := func(id string) {
		if b, i, ok := parseID(id); ok {
			if want[b] == nil {
				want[b] = map[int]bool{}
			}
			want[b][i] = true
		}
	}
	rows, err := g.db.R.QueryContext(ctx, "SELECT permit_id FROM gate_sends WHERE person_kind = $1 AND person_key = $2", string(p.Kind), p.Key)
	if err != nil {
		return nil, fmt.Errorf("gate: permits for: %w", err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("gate: permits for: %w", err)
		}
		add(id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("gate: permits for: %w", err)
	}
	// The permits that may still be used: in batches with an unexpired
	// permit that mention the person at all.
	find := "instr(data, $2) > 0"
	if g.db.Dialect == store.Postgres {
		find = "strpos(data, $2) > 0"
	}
	quoted := string(appendString(nil, p.Key))
	var recs []recorded
	batches, err := g.db.R.QueryContext(ctx, "SELECT id, at, data FROM gate_batches WHERE expires_at >= $1 AND "+find, now, quoted)
	if err != nil {
		return nil, fmt.Errorf("gate: permits for: %w", err)
	}
	seen := map[int64]bool{}
	for batches.Next() {
		var b int64
		var at time.Time
		var data string
		if err := batches.Scan(&b, &at, &data); err != nil {
			batches.Close()
			return nil, fmt.Errorf("gate: permits for: %w", err)
		}
		seen[b] = true
		rs, err := decodeBatch(b, at, data, func(i int, f []json.RawMessage) bool {
			return want[b][i] || (string(f[fAllowed]) == "true" && string(f[fKey]) == quoted && string(f[fKind]) == `"`+string(p.Kind)+`"`)
		})
		if err != nil {
			batches.Close()
			return nil, err
		}
		for _, r := range rs {
			if want[b][index(r.id)] || !now.After(r.expires) {
				recs = append(recs, r)
			}
		}
	}
	batches.Close()
	if err := batches.Err(); err != nil {
		return nil, fmt.Errorf("gate: permits for: %w", err)
	}
	for b, idx := range want {
		if seen[b] {
			continue
		}
		var at time.Time
		var data string
		if err := g.db.R.QueryRowContext(ctx, "SELECT at, data FROM gate_batches WHERE id = $1", b).Scan(&at, &data); err != nil {
			return nil, fmt.Errorf("gate: permits for: batch %d: %w", b, err)
		}
		rs, err := decodeBatch(b, at, data, func(i int, _ []json.RawMessage) bool { return idx[i] })
		if err != nil {
			return nil, err
		}
		recs = append(recs, rs...)
	}
	out, err := g.explainRecorded(ctx, recs)
	if err != nil {
		return nil, err
	}
	legacy, err := g.explain(ctx, "d.person_kind = $1 AND d.person_key = $2 AND p.id IS NOT NULL", string(p.Kind), p.Key)
	if err != nil {
		return nil, err
	}
	out = append(out, legacy...)
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.After(out[j].At)
		}
		return out[i].DecisionID < out[j].DecisionID
	})
	return out, nil
}

// index returns the index part of a decision id.
func index(id string) int {
	_, i, _ := parseID(id)
	return i
}

// explainRecorded turns decisions read from gate_batches into
// explanations, with when each permit was used and the consent event.
func (g *Gate) explainRecorded(ctx context.Context, rs []recorded) ([]Explanation, error) {
	out := make([]Explanation, 0, len(rs))
	events := make([]int64, 0, len(rs))
	for _, r := range rs {
		e := Explanation{DecisionID: r.id, At: r.at, Person: r.person, Channel: r.channel, Purpose: r.purpose, Class: r.class,
			Campaign: r.campaign, Sender: r.sender, Allowed: r.allowed, Reason: r.reason, Message: r.detail, ExpiresAt: r.expires}
		if r.allowed {
			var used time.Time
			err := g.db.R.QueryRowContext(ctx, "SELECT at FROM gate_sends WHERE permit_id = $1", r.id).Scan(&used)
			switch {
			case err == nil:
				used = used.UTC()
				e.ConsumedAt = &used
			case !errors.Is(err, sql.ErrNoRows):
				return nil, fmt.Errorf("gate: explain: %w", err)
			}
		}
		out = append(out, e)
		events = append(events, r.event)
	}
	return out, g.attachEvents(ctx, out, events)
}

func (g *Gate) explain(ctx context.Context, where string, args ...any) ([]Explanation, error) {
	rows, err := g.db.R.QueryContext(ctx, "SELECT "+legacyColumns+" WHERE "+where, args...)
	if err != nil {
		return nil, fmt.Errorf("gate: explain: %w", err)
	}
	var out []Explanation
	var events []int64
	for rows.Next() {
		var e Explanation
		var kind, ch, purpose, class, reason string
		var ev sql.NullInt64
		var expires, consumed sql.NullTime
		if err := rows.Scan(&e.DecisionID, &e.At, &kind, &e.Person.Key, &ch, &purpose, &class, &e.Campaign, &e.Sender, &e.Allowed, &reason, &e.Message,
			&ev, &expires, &consumed); err != nil {
			rows.Close()
			return nil, fmt.Errorf("gate: explain: %w", err)
		}
		e.Person.Kind, e.Channel, e.Purpose, e.Class, e.Reason = consent.PersonKind(kind), consent.Channel(ch), consent.Purpose(purpose), Class(class), Reason(reason)
		e.At = e.At.UTC()
		if expires.Valid {
			e.ExpiresAt = expires.Time.UTC()
		}
		if consumed.Valid {
			t := consumed.Time.UTC()
			e.ConsumedAt = &t
		}
		out = append(out, e)
		events = append(events, ev.Int64)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("gate: explain: %w", err)
	}
	return out, g.attachEvents(ctx, out, events)
}

// attachEvents sets the consent event of each explanation whose decision
// rested on one (events[i], 0 for none).
func (g *Gate) attachEvents(ctx context.Context, out []Explanation, events []int64) error {
	var err error
	histories := map[consent.Person][]consent.Event{}
	ledger := consent.NewLedger(g.db.R, g.key)
	for i := range out {
		if events[i] == 0 {
			continue
		}
		h, ok := histories[out[i].Person]
		if !ok {
			if h, err = ledger.History(ctx, out[i].Person); err != nil {
				return fmt.Errorf("gate: explain: %w", err)
			}
			histories[out[i].Person] = h
		}
		for j := range h {
			if h[j].ID == events[i] {
				out[i].ConsentEvent = &h[j]
			}
		}
	}
	return nil
}
