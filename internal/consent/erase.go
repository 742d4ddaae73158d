package consent

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/store"
)

// minKeyLen is the shortest key accepted for suppression hashes and
// unsubscribe tokens.
const minKeyLen = 16

// Suppression reasons.
const (
	ReasonErasure   = "erasure"   // the person's data was erased
	ReasonComplaint = "complaint" // a spam complaint (feedback loop) or a regulator's notice
	ReasonCarrier   = "carrier"   // a carrier's or gateway's block list
)

// SuppressionHash returns the keyed hash consent_suppressions.subject_hash
// holds for p (normalised) under key: how the gate finds the suppressions
// of a person the ledger has no state for.
func SuppressionHash(key []byte, p Person) string { return subjectHash(key, p) }

// SuppressionHasher computes SuppressionHash for many persons under one
// key, without setting the key up each time. One serves one goroutine.
type SuppressionHasher struct {
	h   hash.Hash
	buf []byte
}

// NewSuppressionHasher returns a SuppressionHasher for key.
func NewSuppressionHasher(key []byte) *SuppressionHasher {
	return &SuppressionHasher{h: hmac.New(sha256.New, key)}
}

// Hash returns SuppressionHash(key, p).
func (s *SuppressionHasher) Hash(p Person) string {
	b := append(s.buf[:0], "kith.consent.suppression\x00"...)
	b = append(b, p.Kind...)
	b = append(b, ':')
	b = append(b, p.Key...)
	s.h.Reset()
	s.h.Write(b)
	s.buf = s.h.Sum(b[:0])
	return hex.EncodeToString(s.buf)
}

// subjectHash is the keyed hash a suppression stores instead of the person.
func subjectHash(key []byte, p Person) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("kith.consent.suppression\x00"))
	m.Write([]byte(p.String()))
	return hex.EncodeToString(m.Sum(nil))
}

func checkKey(key []byte) error {
	if len(key) < minKeyLen {
		return fmt.Errorf("consent: the key has %d bytes; give the instance's blind-index key", len(key))
	}
	return nil
}

// Suppress records that a person must not be contacted for a purpose on a
// channel (reason: ReasonComplaint, ReasonCarrier, …) without erasing
// anything. Suppressing twice keeps the first entry. key is the instance's
// blind-index key; if it changes, earlier entries no longer match. The
// person's consent_state row for the purpose and channel, if any, is marked
// suppressed in the same transaction.
func Suppress(ctx context.Context, q store.Querier, key []byte, p Person, purpose Purpose, ch Channel, reason string, now time.Time) error {
	if err := checkKey(key); err != nil {
		return err
	}
	p, err := p.normalize()
	if err != nil {
		return err
	}
	if !purposeRe.MatchString(string(purpose)) {
		return invalid("purpose %q is not a purpose key", purpose)
	}
	if !ch.valid() {
		return invalid("channel %q is unknown; use wecom, sms or email", ch)
	}
	if reason = strings.TrimSpace(reason); reason == "" || len(reason) > 64 {
		return invalid("reason is required (at most 64 bytes): why the person is suppressed")
	}
	if err := suppress(ctx, q, subjectHash(key, p), purpose, ch, reason, now); err != nil {
		return err
	}
	_, err = suppressState(ctx, q, key, p, purpose, ch, now)
	return err
}

func suppress(ctx context.Context, q store.Querier, subject string, purpose Purpose, ch Channel, reason string, now time.Time) error {
	seq, err := nextSeq(ctx, q)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, `INSERT INTO consent_suppressions (subject_hash, purpose, channel, reason, created_at, seq)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (subject_hash, purpose, channel) DO NOTHING`,
		subject, string(purpose), string(ch), reason, now.UTC().Truncate(time.Microsecond), seq)
	if err != nil {
		return fmt.Errorf("consent: suppress %s/%s: %w", purpose, ch, err)
	}
	return nil
}

// Erase deletes every consent event of a person — the one DELETE the
// database lets through, by naming the person in consent_erasures for the
// length of the statement — and leaves suppression entries, under a keyed
// hash of the person, for every purpose and channel they had events for and
// for every commercial purpose on every channel. It returns how many events
// it deleted. Run it in the erasure's transaction: the marker row is gone
// again when it returns, and if the transaction rolls back, nothing happened.
// The person's consent_state rows are deleted with the events.
func Erase(ctx context.Context, q store.Querier, key []byte, p Person, now time.Time) (int, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	p, err := p.normalize()
	if err != nil {
		return 0, err
	}
	type pair struct {
		purpose Purpose
		ch      Channel
	}
	var pairs []pair
	rows, err := q.QueryContext(ctx, "SELECT DISTINCT purpose, channel FROM consent_events WHERE person_kind = $1 AND person_key = $2",
		string(p.Kind), p.Key)
	if err != nil {
		return 0, fmt.Errorf("consent: erase: %w", err)
	}
	for rows.Next() {
		var pu, ch string
		if err := rows.Scan(&pu, &ch); err != nil {
			rows.Close()
			return 0, fmt.Errorf("consent: erase: %w", err)
		}
		pairs = append(pairs, pair{Purpose(pu), Channel(ch)})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("consent: erase: %w", err)
	}
	commercial, err := purposes(ctx, q, "WHERE commercial")
	if err != nil {
		return 0, err
	}
	for _, pu := range commercial {
		for _, ch := range Channels {
			pairs = append(pairs, pair{pu.Key, ch})
		}
	}

	now = now.UTC().Truncate(time.Microsecond)
	if _, err := eraseState(ctx, q, p); err != nil {
		return 0, err
	}
	if _, err := q.ExecContext(ctx, "INSERT INTO consent_erasures (person_kind, person_key, started_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
		string(p.Kind), p.Key, now); err != nil {
		return 0, fmt.Errorf("consent: erase: mark: %w", err)
	}
	res, err := q.ExecContext(ctx, "DELETE FROM consent_events WHERE person_kind = $1 AND person_key = $2", string(p.Kind), p.Key)
	if err != nil {
		return 0, fmt.Errorf("consent: erase: delete events: %w", err)
	}
	n, _ := res.RowsAffected()
	if _, err := q.ExecContext(ctx, "DELETE FROM consent_erasures WHERE person_kind = $1 AND person_key = $2", string(p.Kind), p.Key); err != nil {
		return 0, fmt.Errorf("consent: erase: unmark: %w", err)
	}
	subject := subjectHash(key, p)
	for _, pr := range pairs {
		if err := suppress(ctx, q, subject, pr.purpose, pr.ch, ReasonErasure, now); err != nil {
			return 0, err
		}
	}
	return int(n), nil
}

// Suppress is Suppress with the ledger's key, telling the ledger's OnChange
// hooks.
func (l *Ledger) Suppress(ctx context.Context, q store.Querier, p Person, purpose Purpose, ch Channel, reason string, now time.Time) error {
	if err := Suppress(ctx, q, l.key, p, purpose, ch, reason, now); err != nil {
		return err
	}
	l.changed()
	return nil
}

// Erase is Erase with the ledger's key, telling the ledger's OnChange
// hooks.
func (l *Ledger) Erase(ctx context.Context, q store.Querier, p Person, now time.Time) (int, error) {
	n, err := Erase(ctx, q, l.key, p, now)
	if err != nil {
		return n, err
	}
	l.changed()
	return n, nil
}

// Suppressed reports whether a person is suppressed for a purpose on a
// channel.
func (l *Ledger) Suppressed(ctx context.Context, p Person, purpose Purpose, ch Channel) (bool, error) {
	if err := checkKey(l.key); err != nil {
		return false, err
	}
	p, err := p.normalize()
	if err != nil {
		return false, err
	}
	var one int
	err = l.q.QueryRowContext(ctx, "SELECT 1 FROM consent_suppressions WHERE subject_hash = $1 AND purpose = $2 AND channel = $3",
		subjectHash(l.key, p), string(purpose), string(ch)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("consent: suppressed: %w", err)
	}
	return true, nil
}

// suppressions marks the states of suppressed persons (as of at).
func (l *Ledger) suppressions(ctx context.Context, states map[Person]State, purpose Purpose, ch Channel, at time.Time) error {
	bySubject := make(map[string]Person, len(states))
	subjects := make([]string, 0, len(states))
	for p := range states {
		h := subjectHash(l.key, p)
		bySubject[h] = p
		subjects = append(subjects, h)
	}
	for start := 0; start < len(subjects); start += l.statesBatch() {
		chunk := subjects[start:min(start+l.statesBatch(), len(subjects))]
		args := []any{string(purpose), string(ch), at}
		in, err := l.inList(chunk, &args)
		if err != nil {
			return err
		}
		rows, err := l.q.QueryContext(ctx, "SELECT subject_hash, created_at FROM consent_suppressions WHERE purpose = $1 AND channel = $2 AND created_at <= $3 AND subject_hash IN ("+
			in+")", args...)
		if err != nil {
			return fmt.Errorf("consent: suppressions: %w", err)
		}
		for rows.Next() {
			var h string
			var t time.Time
			if err := rows.Scan(&h, &t); err != nil {
				rows.Close()
				return fmt.Errorf("consent: suppressions: %w", err)
			}
			st := states[bySubject[h]]
			st.Suppressed, st.SuppressedAt = true, t.UTC()
			states[bySubject[h]] = st
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("consent: suppressions: %w", err)
		}
	}
	return nil
}
