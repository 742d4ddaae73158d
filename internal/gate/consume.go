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
// It marks the permit consumed — once: a second Consume of the same permit,
// or of a copy, is refused with PERMIT_REUSED — re-checks consent as it
// stands now (a withdrawal after the decision wins, P-13), quiet hours and
// the caps (counting every send committed before), and records the send in
// gate_sends, which the caps count. A zero, unknown or tampered permit is
// refused. A refusal is a *Refusal; on any error the caller must roll q back
// and not send.
func (g *Gate) Consume(ctx context.Context, q store.Querier, p Permit) error {
	if p.p == nil {
		return &Refusal{PermitMissing, "No permit was given: every message needs a permit from the gate."}
	}
	pm := p.p
	now := g.clock.Now().UTC()
	if g.db.Dialect == store.Postgres {
		// Serialise consumes for one person and channel, so two permits
		// for the same person cannot both pass the cap check.
		if _, err := q.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(pm.person, pm.channel)); err != nil {
			return fmt.Errorf("gate: consume: lock: %w", err)
		}
	}
	var hash string
	var consumed sql.NullTime
	var expires time.Time
	err := q.QueryRowContext(ctx, "SELECT token_hash, consumed_at, expires_at FROM gate_permits WHERE id = $1", pm.id).Scan(&hash, &consumed, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return &Refusal{PermitForged, fmt.Sprintf("Permit %q was not issued by this gate.", pm.id)}
	}
	if err != nil {
		return fmt.Errorf("gate: consume %s: %w", pm.id, err)
	}
	if subtle.ConstantTimeCompare([]byte(hash), []byte(tokenHash(pm.token))) != 1 {
		return &Refusal{PermitForged, fmt.Sprintf("Permit %q does not match the one the gate issued.", pm.id)}
	}
	if consumed.Valid {
		return &Refusal{PermitReused, fmt.Sprintf("Permit %q was already used at %s; a permit allows one message.", pm.id, consumed.Time.UTC().Format(time.RFC3339))}
	}
	if now.After(expires) {
		return &Refusal{PermitExpired, fmt.Sprintf("Permit %q expired at %s; ask the gate again.", pm.id, expires.UTC().Format(time.RFC3339))}
	}
	res, err := q.ExecContext(ctx, "UPDATE gate_permits SET consumed_at = $1 WHERE id = $2 AND consumed_at IS NULL", now, pm.id)
	if err != nil {
		return fmt.Errorf("gate: consume %s: %w", pm.id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return &Refusal{PermitReused, fmt.Sprintf("Permit %q was used by another sender at the same time; a permit allows one message.", pm.id)}
	}
	if err := g.recheck(ctx, q, pm, now); err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, "INSERT INTO gate_sends (permit_id, person_kind, person_key, channel, class, at) VALUES ($1, $2, $3, $4, $5, $6)",
		pm.id, string(pm.person.Kind), pm.person.Key, string(pm.channel), string(pm.class), now)
	if err != nil {
		return fmt.Errorf("gate: record send of %s: %w", pm.id, err)
	}
	return nil
}

// recheck repeats, inside q and at now, the checks that may have changed
// since the decision: suppression, consent, quiet hours and caps.
func (g *Gate) recheck(ctx context.Context, q store.Querier, pm *permit, now time.Time) error {
	st, err := consent.NewLedger(q, g.key).State(ctx, pm.person, pm.purpose, pm.channel, now)
	if err != nil {
		return fmt.Errorf("gate: consume %s: consent: %w", pm.id, err)
	}
	if st.Suppressed && !st.Permits() {
		return &Refusal{Suppressed, "The person was suppressed after the permit was issued."}
	}
	if pm.class != Marketing {
		return nil
	}
	if reason, msg := consentReason(st); reason != OK {
		return &Refusal{reason, msg}
	}
	if reason, msg := typeReason(st.Scope, pm.msgType); reason != OK {
		return &Refusal{reason, msg}
	}
	pol, err := loadPolicy(ctx, q, pm.channel)
	if err != nil {
		return err
	}
	loc, err := time.LoadLocation(pm.tz)
	if err != nil {
		loc = DefaultLocation
	}
	at := now.In(loc)
	if in, end := pol.quiet(at); in {
		return &Refusal{QuietHours, fmt.Sprintf("It is quiet hours for the person; send at %s or later.", end.Format("2006-01-02 15:04 MST"))}
	}
	sends, err := recentSends(ctx, q, []consent.Person{pm.person}, pm.channel, now.AddDate(0, 0, -32))
	if err != nil {
		return err
	}
	if reason, msg := capCheck(pol, st.Scope, sends[pm.person], at); reason != OK {
		return &Refusal{reason, msg}
	}
	return nil
}

func lockKey(p consent.Person, ch consent.Channel) int64 {
	h := fnv.New64a()
	h.Write([]byte("kith.gate\x00" + p.String() + "\x00" + string(ch)))
	return int64(h.Sum64() >> 1)
}
