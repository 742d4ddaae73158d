package gate

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/kith"
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

const explainColumns = `d.id, d.at, d.person_kind, d.person_key, d.channel, d.purpose, d.class, d.campaign, d.sender, d.allowed, d.reason, d.detail,
	d.consent_event_id, p.expires_at, p.consumed_at FROM gate_decisions d LEFT JOIN gate_permits p ON p.id = d.id`

// Explain returns the decision (and permit) with the given id.
func (g *Gate) Explain(ctx context.Context, id string) (Explanation, error) {
	out, err := g.explain(ctx, "d.id = $1", id)
	if err != nil {
		return Explanation{}, err
	}
	if len(out) == 0 {
		return Explanation{}, kith.Errorf(kith.ENOTFOUND, "gate: no decision %q", id)
	}
	return out[0], nil
}

// PermitsFor returns the permits issued for a person, newest first: every
// message Kith may have sent them, each with its reason.
func (g *Gate) PermitsFor(ctx context.Context, p consent.Person) ([]Explanation, error) {
	p, err := consent.ParsePerson(p.String())
	if err != nil {
		return nil, err
	}
	return g.explain(ctx, "d.person_kind = $1 AND d.person_key = $2 AND p.id IS NOT NULL ORDER BY d.at DESC, d.id", string(p.Kind), p.Key)
}

func (g *Gate) explain(ctx context.Context, where string, args ...any) ([]Explanation, error) {
	rows, err := g.db.R.QueryContext(ctx, "SELECT "+explainColumns+" WHERE "+where, args...)
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
	histories := map[consent.Person][]consent.Event{}
	ledger := consent.NewLedger(g.db.R, g.key)
	for i := range out {
		if events[i] == 0 {
			continue
		}
		h, ok := histories[out[i].Person]
		if !ok {
			if h, err = ledger.History(ctx, out[i].Person); err != nil {
				return nil, fmt.Errorf("gate: explain: %w", err)
			}
			histories[out[i].Person] = h
		}
		for j := range h {
			if h[j].ID == events[i] {
				out[i].ConsentEvent = &h[j]
			}
		}
	}
	return out, nil
}
