package consent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// genesis is the prev_hash of a person's first event.
var genesis = strings.Repeat("0", 64)

// hashTimeFormat writes times into the hash: UTC, microseconds, which both
// dialects store exactly.
const hashTimeFormat = "2006-01-02T15:04:05.000000Z"

// hashed is the canonical encoding of an event: every stored field but the
// id (which the database assigns) and the hashes. Field order is fixed by
// the struct; evidence and scope are hashed as the exact stored text.
type hashed struct {
	Version       int    `json:"v"`
	PersonKind    string `json:"person_kind"`
	PersonKey     string `json:"person_key"`
	Purpose       string `json:"purpose"`
	Channel       string `json:"channel"`
	Action        string `json:"action"`
	Source        string `json:"source"`
	Evidence      string `json:"evidence"`
	NoticeVersion int    `json:"notice_version"`
	NoticeHash    string `json:"notice_hash"`
	Scope         string `json:"scope"`
	RecordedBy    string `json:"recorded_by"`
	OccurredAt    string `json:"occurred_at"`
	ReceivedAt    string `json:"received_at"`
}

// hashOf returns SHA-256(prev_hash ‖ "\n" ‖ canonical(event)) in hex.
func hashOf(prev string, c canonical) string {
	b, err := json.Marshal(hashed{
		Version:       1,
		PersonKind:    string(c.Person.Kind),
		PersonKey:     c.Person.Key,
		Purpose:       string(c.Purpose),
		Channel:       string(c.Channel),
		Action:        string(c.Action),
		Source:        string(c.Source),
		Evidence:      c.evidence,
		NoticeVersion: c.NoticeVersion,
		NoticeHash:    c.NoticeHash,
		Scope:         c.scope,
		RecordedBy:    c.RecordedBy,
		OccurredAt:    c.OccurredAt.UTC().Format(hashTimeFormat),
		ReceivedAt:    c.ReceivedAt.UTC().Format(hashTimeFormat),
	})
	if err != nil {
		panic(err) // strings and ints always encode
	}
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write([]byte("\n"))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// ChainReport is the result of verifying a person's hash chain.
type ChainReport struct {
	Person Person
	Events int  // events checked
	OK     bool // every event verifies and links to the one before
	// BrokenAt is the id of the first event that does not verify, and
	// Reason says how; zero and empty when OK.
	BrokenAt int64
	Reason   string
}

// VerifyChain re-computes the hash chain of a person's events and reports
// the first event that was changed, or whose predecessor was removed. It
// cannot see events removed from the end of the chain; the database's
// triggers refuse that, and the audit log's checkpoints anchor it.
func (l *Ledger) VerifyChain(ctx context.Context, p Person) (ChainReport, error) {
	p, err := p.normalize()
	if err != nil {
		return ChainReport{}, err
	}
	rows, err := l.events(ctx, "person_kind = $1 AND person_key = $2 ORDER BY id", string(p.Kind), p.Key)
	if err != nil {
		return ChainReport{}, fmt.Errorf("consent: verify chain of %s: %w", p.Kind, err)
	}
	r := ChainReport{Person: p, OK: true}
	prev := genesis
	for _, c := range rows {
		r.Events++
		switch {
		case c.PrevHash != prev:
			r.OK, r.BrokenAt, r.Reason = false, c.ID, "its prev_hash does not name the event before: an event before it was removed or changed"
		case hashOf(c.PrevHash, c.canonical) != c.Hash:
			r.OK, r.BrokenAt, r.Reason = false, c.ID, "its content does not match its hash: the event was changed"
		}
		if !r.OK {
			return r, nil
		}
		prev = c.Hash
	}
	return r, nil
}
