package consent

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
)

var (
	purposeRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
	keyRe     = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	hashRe    = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ClockSkew is how far an event's occurred_at may lie after its
// received_at (a gateway's clock running ahead). Within it, occurred_at is
// set to received_at; beyond it, the event is refused.
const ClockSkew = 5 * time.Minute

// unlawfulProvenance are the sources of a list that P-15 refuses outright.
var unlawfulProvenance = []string{"purchased", "bought", "crawled", "scraped", "generated", "number_generated"}

func invalid(format string, args ...any) error {
	return kith.Errorf(kith.EINVALID, "consent: "+format, args...)
}

// canonical is an event checked and put in its stored form, with its
// evidence and scope encoded as they are stored and hashed.
type canonical struct {
	Event
	evidence string
	scope    string
}

// check validates everything about e that needs no database, and returns
// it in its stored form. Each error is EINVALID and names the field.
func check(e Event) (canonical, error) {
	var c canonical
	var err error
	if e.Person, err = e.Person.normalize(); err != nil {
		return c, err
	}
	if e.Purpose == "" {
		return c, invalid("purpose is required (one purpose per event: service, marketing, archive, profiling, …)")
	}
	if !purposeRe.MatchString(string(e.Purpose)) {
		return c, invalid("purpose %q is not a purpose key", e.Purpose)
	}
	if e.Channel == "" {
		return c, invalid("channel is required (wecom, sms or email)")
	}
	if !e.Channel.valid() {
		return c, invalid("channel %q is unknown; use wecom, sms or email", e.Channel)
	}
	if !e.Person.reaches(e.Channel) {
		return c, invalid("channel %s does not reach a person identified by %s", e.Channel, e.Person.Kind)
	}
	if e.Action == "" {
		return c, invalid("action is required (grant, withdraw or refuse)")
	}
	if !e.Action.valid() {
		return c, invalid("action %q is unknown; use grant, withdraw or refuse", e.Action)
	}
	if e.Source == "" {
		return c, invalid("source is required: say how the event reached Kith (customer, import, opt_out_reply, one_click, unsubscribe_link, member_deleted, console or api)")
	}
	if !e.Source.valid() {
		return c, invalid("source %q is unknown", e.Source)
	}
	if e.Action == Grant && !e.Source.grantSource() {
		return c, invalid("source %s cannot grant consent, only withdraw or refuse it", e.Source)
	}
	if c.evidence, err = checkEvidence(e); err != nil {
		return c, err
	}
	if err := checkNotice(e); err != nil {
		return c, err
	}
	if e.RecordedBy = strings.TrimSpace(e.RecordedBy); e.RecordedBy == "" {
		return c, invalid("recorded_by is required: say who wrote the event (a user, sms, wecom, an import batch)")
	}
	if len(e.RecordedBy) > 128 {
		return c, invalid("recorded_by has more than 128 bytes")
	}
	if e.OccurredAt.IsZero() {
		return c, invalid("occurred_at is required: when the person acted")
	}
	if e.ReceivedAt.IsZero() {
		return c, invalid("received_at is required: when Kith learned of the event")
	}
	// Both dialects keep microseconds; hashing what is stored needs the
	// same instant back.
	e.OccurredAt = e.OccurredAt.UTC().Truncate(time.Microsecond)
	e.ReceivedAt = e.ReceivedAt.UTC().Truncate(time.Microsecond)
	if e.OccurredAt.After(e.ReceivedAt) {
		if e.OccurredAt.Sub(e.ReceivedAt) > ClockSkew {
			return c, invalid("occurred_at %s is after received_at %s: an event cannot happen after Kith received it",
				e.OccurredAt.Format(time.RFC3339), e.ReceivedAt.Format(time.RFC3339))
		}
		e.OccurredAt = e.ReceivedAt
	}
	if c.scope, e.Scope, err = checkScope(e); err != nil {
		return c, err
	}
	e.ID, e.PrevHash, e.Hash = 0, "", ""
	c.Event = e
	return c, nil
}

// checkEvidence checks the evidence and returns its stored encoding.
func checkEvidence(e Event) (string, error) {
	if len(e.Evidence) == 0 {
		return "", invalid("evidence is required: say what the person saw and did (e.g. the id of their reply, the page they used)")
	}
	for k, v := range e.Evidence {
		if !keyRe.MatchString(k) {
			return "", invalid("evidence key %q must be lower-case letters, digits and _", k)
		}
		if strings.TrimSpace(v) == "" {
			return "", invalid("evidence.%s is empty", k)
		}
	}
	has := func(k string) bool { return e.Evidence[k] != "" }
	switch {
	case e.Source == SourceImport:
		if !has(EvidenceProvenance) {
			return "", invalid("evidence.provenance is required for an import: name the system the list came from (P-15)")
		}
		if p := strings.ToLower(strings.TrimSpace(e.Evidence[EvidenceProvenance])); slices.Contains(unlawfulProvenance, p) {
			return "", invalid("evidence.provenance %q is not a lawful source: purchased, crawled or generated lists are refused", e.Evidence[EvidenceProvenance])
		}
	case e.Source == SourceOptOutReply:
		if !has(EvidenceMessageID) {
			return "", invalid("evidence.message_id is required for an opt-out reply: the id of the inbound message")
		}
	case e.Source == SourceConsole && e.Action == Grant:
		// Consent entered by an agent must point at the person's own words
		// (P-11).
		if !has(EvidenceMessageID) && !has(EvidenceAttachment) {
			return "", invalid("evidence.message_id or evidence.attachment is required when an agent records a grant: point at the person's own words")
		}
	}
	b, err := json.Marshal(e.Evidence) // map keys sorted: one encoding per evidence
	if err != nil {
		return "", invalid("evidence cannot be encoded: %v", err)
	}
	if len(b) > MaxEvidenceBytes {
		return "", invalid("evidence has %d bytes encoded, more than %d: keep a pointer (a message id, a URL), not the content", len(b), MaxEvidenceBytes)
	}
	return string(b), nil
}

func checkNotice(e Event) error {
	if e.NoticeVersion < 0 {
		return invalid("notice_version %d is not a version", e.NoticeVersion)
	}
	if e.Action == Grant && e.NoticeVersion == 0 {
		return invalid("notice_version is required for a grant: name the notice the person saw")
	}
	if e.NoticeVersion == 0 && e.NoticeHash != "" {
		return invalid("notice_hash is given without notice_version")
	}
	if e.NoticeVersion > 0 && !hashRe.MatchString(e.NoticeHash) {
		return invalid("notice_hash is required with notice_version: the hex SHA-256 of the notice text the person saw")
	}
	return nil
}

// checkScope checks a grant's scope and returns its stored encoding ("" for
// none) and the scope in stored form.
func checkScope(e Event) (string, *Scope, error) {
	if e.Scope == nil {
		return "", nil, nil
	}
	if e.Action != Grant {
		return "", nil, invalid("scope applies to a grant only, not to %s", e.Action)
	}
	s := *e.Scope
	s.Types = slices.Clone(s.Types)
	if len(s.Types) > 20 {
		return "", nil, invalid("scope.types lists %d types, more than 20", len(s.Types))
	}
	for i, t := range s.Types {
		s.Types[i] = strings.TrimSpace(t)
		if s.Types[i] == "" || len(s.Types[i]) > 64 {
			return "", nil, invalid("scope.types[%d] must have 1 to 64 bytes", i)
		}
	}
	if s.MaxPerWeek < 0 {
		return "", nil, invalid("scope.max_per_week %d is negative", s.MaxPerWeek)
	}
	if s.ValidUntil != nil {
		v := s.ValidUntil.UTC().Truncate(time.Microsecond)
		if !v.After(e.OccurredAt) {
			return "", nil, invalid("scope.valid_until %s is not after occurred_at %s", v.Format(time.RFC3339), e.OccurredAt.Format(time.RFC3339))
		}
		s.ValidUntil = &v
	}
	if len(s.Types) == 0 && s.MaxPerWeek == 0 && s.ValidUntil == nil {
		return "", nil, nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return "", nil, invalid("scope cannot be encoded: %v", err)
	}
	return string(b), &s, nil
}
