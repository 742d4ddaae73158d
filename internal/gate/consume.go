package gate

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/store"
)

// Consume uses p to send one message, inside q: the transaction that
// records the send (a *sql.Tx or *store.CachedTx on the database's writer).
// It checks the permit's token (an HMAC of its id and contents: a zero,
// unknown or tampered permit is refused), refuses a permit already used —
// a second Consume of the same permit, or of a copy, is PERMIT_REUSED —
// re-checks consent as it stands now in the database (a withdrawal after
// the decision wins, P-13, whatever the gate's cache said), quiet hours and
// the caps (counting every send committed before), and records the send in
// gate_sends, which the caps count and whose primary key lets a permit be
// used once. A refusal is a *Refusal; on any error the caller must roll q
// back and not send.
func (g *Gate) Consume(ctx context.Context, q store.Querier, p Permit) error {
	if p.p == nil {
		return &Refusal{PermitMissing, "No permit was given: every message needs a permit from the gate."}
	}
	pm := p.p
	if subtle.ConstantTimeCompare([]byte(pm.token), []byte(permitToken(g.permitKey, pm))) != 1 {
		return &Refusal{PermitForged, fmt.Sprintf("Permit %q was not issued by this gate, or was changed.", pm.id)}
	}
	now := g.clock.Now().UTC()
	if g.db.Dialect == store.Postgres {
		// Serialise consumes for one person and channel, so two permits
		// for the same person cannot both pass the cap check.
		if _, err := q.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(pm.person, pm.channel)); err != nil {
			return fmt.Errorf("gate: consume: lock: %w", err)
		}
	}
	var used time.Time
	err := q.QueryRowContext(ctx, "SELECT at FROM gate_sends WHERE permit_id = $1", pm.id).Scan(&used)
	if err == nil {
		return &Refusal{PermitReused, fmt.Sprintf("Permit %q was already used at %s; a permit allows one message.", pm.id, used.UTC().Format(time.RFC3339))}
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("gate: consume %s: %w", pm.id, err)
	}
	if now.After(pm.expires) {
		return &Refusal{PermitExpired, fmt.Sprintf("Permit %q expired at %s; ask the gate again.", pm.id, pm.expires.UTC().Format(time.RFC3339))}
	}
	if err := g.recheck(ctx, q, pm, now); err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, "INSERT INTO gate_sends (permit_id, person_kind, person_key, channel, class, at) VALUES ($1, $2, $3, $4, $5, $6)",
		pm.id, string(pm.person.Kind), pm.person.Key, string(pm.channel), string(pm.class), now)
	if store.IsUniqueViolation(err) {
		return &Refusal{PermitReused, fmt.Sprintf("Permit %q was used by another sender at the same time; a permit allows one message.", pm.id)}
	}
	if err != nil {
		return fmt.Errorf("gate: record send of %s: %w", pm.id, err)
	}
	// The caps of the next decisions count this send once it commits.
	g.cache.force()
	return nil
}

// recheck repeats, inside q and at now, the checks that may have changed
// since the decision: suppression, consent, quiet hours and caps.
func (g *Gate) recheck(ctx context.Context, q store.Querier, pm *permit, now time.Time) error {
	st, err := consent.NewLedger(q, g.key).State(ctx, pm.person, pm.purpose, pm.channel, now)
	if err != nil {
		return fmt.Errorf("gate: consume %s: consent: %w", pm.id, err)
	}
	var pol Policy
	var sends map[consent.Person][]int64
	if pm.class == Marketing {
		if pol, err = loadPolicy(ctx, q, pm.channel); err != nil {
			return err
		}
		if sends, err = recentSends(ctx, q, []consent.Person{pm.person}, pm.channel, now.AddDate(0, 0, -32)); err != nil {
			return err
		}
	}
	loc, err := time.LoadLocation(pm.tz)
	if err != nil {
		loc = DefaultLocation
	}
	if r := recheckWith(pm, st, pol, sends[pm.person], nil, now.In(loc)); r != nil {
		return r
	}
	return nil
}

func lockKey(p consent.Person, ch consent.Channel) int64 {
	h := fnv.New64a()
	h.Write([]byte("kith.gate\x00" + p.String() + "\x00" + string(ch)))
	return int64(h.Sum64() >> 1)
}
