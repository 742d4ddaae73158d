package consent

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
)

// Record appends a consent event after checking it: every field present
// and well-formed (an EINVALID error names the field), the purpose known,
// the notice version published with the hash given, and — for a
// withdrawal — a person the ledger knows (ENOTFOUND otherwise: there is
// nothing to withdraw; an opt-out from a stranger goes through OptOut,
// which records a refusal). Run it in the transaction of whatever caused
// the event. Two writers racing for the same person cannot fork the
// person's chain: the second gets ECONFLICT and may try again in a new
// transaction. In the same transaction it folds the event into
// consent_state, which is why it needs the ledger's suppression key (and
// its indexer, for the phone index).
func (l *Ledger) Record(ctx context.Context, q store.Querier, e Event) error {
	if err := checkKey(l.key); err != nil {
		return err
	}
	c, err := check(e)
	if err != nil {
		return err
	}
	return l.record(ctx, q, c)
}

func (l *Ledger) record(ctx context.Context, q store.Querier, c canonical) error {
	var separate bool
	err := q.QueryRowContext(ctx, "SELECT separate_consent FROM consent_purposes WHERE key = $1", string(c.Purpose)).Scan(&separate)
	if errors.Is(err, sql.ErrNoRows) {
		return invalid("purpose %q is unknown", c.Purpose)
	}
	if err != nil {
		return fmt.Errorf("consent: purpose %s: %w", c.Purpose, err)
	}
	if separate && c.Action == Grant && c.Source == SourceImport {
		return invalid("purpose %s needs separate consent (P-12): only the person's own decision on its dedicated notice grants it, never an imported list", c.Purpose)
	}
	if c.NoticeVersion > 0 {
		var hash string
		err := q.QueryRowContext(ctx, "SELECT text_hash FROM consent_notices WHERE purpose = $1 AND version = $2",
			string(c.Purpose), c.NoticeVersion).Scan(&hash)
		if errors.Is(err, sql.ErrNoRows) {
			return invalid("notice_version %d of purpose %s was never published", c.NoticeVersion, c.Purpose)
		}
		if err != nil {
			return fmt.Errorf("consent: notice %s/%d: %w", c.Purpose, c.NoticeVersion, err)
		}
		if hash != c.NoticeHash {
			return invalid("notice_hash does not match the text of %s notice version %d: the person saw another text than the one published", c.Purpose, c.NoticeVersion)
		}
	}
	prev, err := head(ctx, q, c.Person)
	if err != nil {
		return err
	}
	if prev == "" {
		if c.Action == Withdraw {
			return kith.Errorf(kith.ENOTFOUND, "consent: nothing to withdraw: the ledger has no event for %s %s", c.Person.Kind, c.Person.Key)
		}
		prev = genesis
	}
	c.PrevHash = prev
	c.Hash = hashOf(prev, c)
	var notice any
	if c.NoticeVersion > 0 {
		notice = c.NoticeVersion
	}
	err = q.QueryRowContext(ctx, `INSERT INTO consent_events (person_kind, person_key, purpose, channel, action, source, evidence,
			notice_version, notice_hash, scope, recorded_by, occurred_at, received_at, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id`,
		string(c.Person.Kind), c.Person.Key, string(c.Purpose), string(c.Channel), string(c.Action), string(c.Source), c.evidence,
		notice, c.NoticeHash, c.scope, c.RecordedBy, c.OccurredAt, c.ReceivedAt, c.PrevHash, c.Hash).Scan(&c.ID)
	if store.IsUniqueViolation(err) || (err != nil && strings.Contains(err.Error(), "must continue the person")) {
		return kith.Errorf(kith.ECONFLICT, "consent: another event for this person was recorded at the same time; try again")
	}
	if err != nil {
		return fmt.Errorf("consent: record %s %s/%s: %w", c.Action, c.Purpose, c.Channel, err)
	}
	return l.applyState(ctx, q, c, c.ReceivedAt)
}

// head returns the hash of a person's last event, or "" when they have none.
func head(ctx context.Context, q store.Querier, p Person) (string, error) {
	var h string
	err := q.QueryRowContext(ctx, "SELECT hash FROM consent_events WHERE person_kind = $1 AND person_key = $2 ORDER BY id DESC LIMIT 1",
		string(p.Kind), p.Key).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("consent: last event of a person: %w", err)
	}
	return h, nil
}
