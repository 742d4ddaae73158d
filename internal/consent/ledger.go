package consent

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/store"
)

// Ledger reads the consent ledger.
type Ledger struct {
	q        store.Querier
	key      []byte
	ix       Indexer  // fills consent_state.person_index; nil: left empty
	onChange []func() // called after each write to consent_state
	// dialect, when known (WithDialect), lets States pass its persons as
	// one JSON parameter instead of one $N each.
	dialect store.Dialect
}

// WithDialect returns a copy of l that knows the database's dialect, so
// that States asks about many persons with one JSON parameter per query
// (store.Dialect.JSONValues) rather than an IN list of $N parameters,
// whose cost on SQLite grows with their number.
func (l *Ledger) WithDialect(d store.Dialect) *Ledger {
	c := *l
	c.dialect = d
	return &c
}

// NewLedger returns a Ledger that reads through q: the database's reader
// (db.R), or a transaction to see its own writes. suppressionKey is the key
// suppression entries are hashed under (the instance's blind-index key, as
// given to Erase and Suppress); State and Suppressed need it.
func NewLedger(q store.Querier, suppressionKey []byte) *Ledger {
	return &Ledger{q: q, key: suppressionKey}
}

const eventColumns = `id, person_kind, person_key, purpose, channel, action, source, evidence, notice_version, notice_hash,
	scope, recorded_by, occurred_at, received_at, prev_hash, hash`

// stored is an event as read back: its stored encodings (which the hash
// covers) and whether they decoded.
type stored struct {
	canonical
	decodeErr error
}

// events reads events matching where (a constant condition with $N
// arguments, ordered as the caller needs).
func (l *Ledger) events(ctx context.Context, where string, args ...any) ([]stored, error) {
	return readEvents(ctx, l.q, where, args...)
}

func readEvents(ctx context.Context, q store.Querier, where string, args ...any) ([]stored, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+eventColumns+" FROM consent_events WHERE "+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []stored
	for rows.Next() {
		var s stored
		var kind, purpose, channel, action, source string
		var notice sql.NullInt64
		if err := rows.Scan(&s.ID, &kind, &s.Person.Key, &purpose, &channel, &action, &source, &s.evidence, &notice, &s.NoticeHash,
			&s.scope, &s.RecordedBy, &s.OccurredAt, &s.ReceivedAt, &s.PrevHash, &s.Hash); err != nil {
			return nil, err
		}
		s.Person.Kind, s.Purpose, s.Channel, s.Action, s.Source = PersonKind(kind), Purpose(purpose), Channel(channel), Action(action), Source(source)
		s.NoticeVersion = int(notice.Int64)
		s.OccurredAt, s.ReceivedAt = s.OccurredAt.UTC(), s.ReceivedAt.UTC()
		if err := json.Unmarshal([]byte(s.evidence), &s.Evidence); err != nil {
			s.decodeErr = fmt.Errorf("evidence of event %d: %w", s.ID, err)
		}
		if s.scope != "" {
			s.Scope = new(Scope)
			if err := json.Unmarshal([]byte(s.scope), s.Scope); err != nil {
				s.decodeErr = fmt.Errorf("scope of event %d: %w", s.ID, err)
			}
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// History returns a person's events in the order they were recorded, for
// the console and for a person's access request.
func (l *Ledger) History(ctx context.Context, p Person) ([]Event, error) {
	p, err := p.normalize()
	if err != nil {
		return nil, err
	}
	rows, err := l.events(ctx, "person_kind = $1 AND person_key = $2 ORDER BY id", string(p.Kind), p.Key)
	if err != nil {
		return nil, fmt.Errorf("consent: history of a person: %w", err)
	}
	out := make([]Event, len(rows))
	for i, r := range rows {
		out[i] = r.Event
	}
	return out, nil
}

// State returns a person's consent for a purpose on a channel as it stood
// at the instant at (time.Now for a send). The deciding event is the last
// one to have occurred by then — by occurred_at, then by id — so an old
// consent imported late does not outweigh a newer withdrawal.
func (l *Ledger) State(ctx context.Context, p Person, purpose Purpose, ch Channel, at time.Time) (State, error) {
	p, err := p.normalize()
	if err != nil {
		return State{}, err
	}
	m, err := l.States(ctx, []Person{p}, purpose, ch, at)
	if err != nil {
		return State{}, err
	}
	return m[p], nil
}

// statesBatch is how many persons one query asks about.
const statesBatch = 500

// noStates returns a StatusNone state for each distinct person (in
// normalised form) and their keys by kind, for States and CurrentStates to
// fill in.
func noStates(persons []Person, purpose Purpose, ch Channel) (map[Person]State, map[PersonKind][]string, error) {
	out := make(map[Person]State, len(persons))
	byKind := map[PersonKind][]string{}
	for _, p := range persons {
		p, err := p.normalize()
		if err != nil {
			return nil, nil, err
		}
		if _, dup := out[p]; dup {
			continue
		}
		out[p] = State{Person: p, Purpose: purpose, Channel: ch, Status: StatusNone}
		byKind[p.Kind] = append(byKind[p.Kind], p.Key)
	}
	return out, byKind, nil
}

// States returns the State of each person for a purpose on a channel at
// the instant at, keyed by the person in normalised form (as the
// ExternalUser, Phone and Email constructors return it). A person with no
// event has StatusNone.
func (l *Ledger) States(ctx context.Context, persons []Person, purpose Purpose, ch Channel, at time.Time) (map[Person]State, error) {
	if len(l.key) < minKeyLen {
		return nil, fmt.Errorf("consent: the ledger has no suppression key")
	}
	at = at.UTC()
	out, byKind, err := noStates(persons, purpose, ch)
	if err != nil {
		return nil, err
	}
	for kind, keys := range byKind {
		for start := 0; start < len(keys); start += l.statesBatch() {
			chunk := keys[start:min(start+l.statesBatch(), len(keys))]
			args := []any{string(kind), string(purpose), string(ch), at}
			in, err := l.inList(chunk, &args)
			if err != nil {
				return nil, err
			}
			rows, err := l.events(ctx, "person_kind = $1 AND purpose = $2 AND channel = $3 AND occurred_at <= $4 AND person_key IN ("+
				in+") ORDER BY person_key, occurred_at, id", args...)
			if err != nil {
				return nil, fmt.Errorf("consent: states: %w", err)
			}
			for _, r := range rows {
				st := out[r.Person]
				if err := fold(&st, r, at); err != nil {
					return nil, err
				}
				out[r.Person] = st
			}
		}
	}
	if err := l.suppressions(ctx, out, purpose, ch, at); err != nil {
		return nil, err
	}
	return out, nil
}

// statesBatch is how many persons one query of States asks about: with
// one JSON parameter, a campaign batch's in one query.
func (l *Ledger) statesBatch() int {
	if l.dialect != "" {
		return 10 * statesBatch
	}
	return statesBatch
}

// inList appends values to args and returns the inside of an IN (…) for
// them: a subquery over one JSON parameter when the dialect is known,
// else "$n, $n+1, …".
func (l *Ledger) inList(values []string, args *[]any) (string, error) {
	if l.dialect == "" {
		return placeholders(len(*args), values, args), nil
	}
	rows := make([][1]string, len(values))
	for i, v := range values {
		rows[i][0] = v
	}
	b, err := json.Marshal(rows)
	if err != nil {
		return "", err
	}
	*args = append(*args, string(b))
	return "SELECT v.c1 FROM " + l.dialect.JSONValues(len(*args), "TEXT") + " AS v", nil
}

// placeholders appends values to args and returns "$n, $n+1, …" for them.
func placeholders(n int, values []string, args *[]any) string {
	var b strings.Builder
	for i, v := range values {
		if i > 0 {
			b.WriteString(", ")
		}
		*args = append(*args, v)
		fmt.Fprintf(&b, "$%d", n+i+1)
	}
	return b.String()
}

// fold makes r, the next event in occurrence order, the deciding event of st.
func fold(st *State, r stored, at time.Time) error {
	if r.decodeErr != nil {
		return fmt.Errorf("consent: %w", r.decodeErr)
	}
	ev := r.Event
	st.Last, st.Scope = &ev, nil
	switch ev.Action {
	case Grant:
		st.Status, st.Scope = StatusGranted, ev.Scope
		if ev.Scope != nil && ev.Scope.ValidUntil != nil && at.After(*ev.Scope.ValidUntil) {
			st.Status = StatusExpired
		}
	case Withdraw:
		st.Status = StatusWithdrawn
	case Refuse:
		st.Status = StatusRefused
	default:
		return fmt.Errorf("consent: event %d has unknown action %q", ev.ID, ev.Action)
	}
	return nil
}

// Purposes returns every purpose, by key.
func (l *Ledger) Purposes(ctx context.Context) ([]PurposeInfo, error) {
	return purposes(ctx, l.q, "")
}

func purposes(ctx context.Context, q store.Querier, where string) ([]PurposeInfo, error) {
	rows, err := q.QueryContext(ctx, "SELECT key, name, description, separate_consent, commercial FROM consent_purposes "+where+" ORDER BY key")
	if err != nil {
		return nil, fmt.Errorf("consent: purposes: %w", err)
	}
	defer rows.Close()
	var out []PurposeInfo
	for rows.Next() {
		var p PurposeInfo
		var key string
		if err := rows.Scan(&key, &p.Name, &p.Description, &p.SeparateConsent, &p.Commercial); err != nil {
			return nil, fmt.Errorf("consent: purposes: %w", err)
		}
		p.Key = Purpose(key)
		out = append(out, p)
	}
	return out, rows.Err()
}

// CurrentStates returns what States returns, read from consent_state (the
// fold of the events, which every writer of the ledger keeps in its own
// transaction) instead of folding the events again: one row per person
// rather than all their events. A person whose row rests on something
// dated after at — an event that occurred, or a suppression made, later
// than at, which the fold as of at would not count — and every person
// when consent_state was never built (a database from before migration
// 00011 until BackfillState ran) are folded from the events as States
// does. The Last event of a state read from a row holds what the row
// keeps: its id, action, source, scope and times, not its evidence or hash.
func (l *Ledger) CurrentStates(ctx context.Context, persons []Person, purpose Purpose, ch Channel, at time.Time) (map[Person]State, error) {
	if len(l.key) < minKeyLen {
		return nil, fmt.Errorf("consent: the ledger has no suppression key")
	}
	var built bool
	if err := l.q.QueryRowContext(ctx, "SELECT built FROM consent_state_seq WHERE one = 1").Scan(&built); err != nil {
		return nil, fmt.Errorf("consent: states: %w", err)
	}
	if !built {
		return l.States(ctx, persons, purpose, ch, at)
	}
	at = at.UTC()
	out, byKind, err := noStates(persons, purpose, ch)
	if err != nil {
		return nil, err
	}
	var later []Person // rows dated after at: folded from the events
	none := make(map[Person]State, len(out))
	for p, st := range out {
		none[p] = st
	}
	scopes := map[string]*Scope{}
	for kind, keys := range byKind {
		for start := 0; start < len(keys); start += l.statesBatch() {
			chunk := keys[start:min(start+l.statesBatch(), len(keys))]
			args := []any{string(kind), string(purpose), string(ch)}
			in, err := l.inList(chunk, &args)
			if err != nil {
				return nil, err
			}
			rows, err := l.q.QueryContext(ctx, `SELECT person_key, action, scope, event_id, suppressed, suppressed_at, occurred_at, received_at, source
				FROM consent_state WHERE person_kind = $1 AND purpose = $2 AND channel = $3 AND person_key IN (`+in+")", args...)
			if err != nil {
				return nil, fmt.Errorf("consent: states: %w", err)
			}
			for rows.Next() {
				var key, action, scope, source string
				var ev Event
				var supAt sql.NullTime
				var suppressed bool
				if err := rows.Scan(&key, &action, &scope, &ev.ID, &suppressed, &supAt, &ev.OccurredAt, &ev.ReceivedAt, &source); err != nil {
					rows.Close()
					return nil, fmt.Errorf("consent: states: %w", err)
				}
				p := Person{Kind: kind, Key: key}
				st, ok := out[p]
				if !ok {
					continue
				}
				delete(none, p)
				ev.OccurredAt, ev.ReceivedAt = ev.OccurredAt.UTC(), ev.ReceivedAt.UTC()
				if ev.OccurredAt.After(at) || (suppressed && supAt.Time.After(at)) {
					later = append(later, p)
					continue
				}
				ev.Person, ev.Purpose, ev.Channel, ev.Action, ev.Source = p, purpose, ch, Action(action), Source(source)
				if scope != "" {
					s, ok := scopes[scope]
					if !ok {
						s = new(Scope)
						if err := json.Unmarshal([]byte(scope), s); err != nil {
							rows.Close()
							return nil, fmt.Errorf("consent: scope of event %d: %w", ev.ID, err)
						}
						scopes[scope] = s
					}
					ev.Scope = s
				}
				if err := fold(&st, stored{canonical: canonical{Event: ev}}, at); err != nil {
					rows.Close()
					return nil, err
				}
				if suppressed {
					st.Suppressed, st.SuppressedAt = true, supAt.Time.UTC()
				}
				out[p] = st
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, fmt.Errorf("consent: states: %w", err)
			}
		}
	}
	// Without a row: no event, but perhaps a suppression (an erased person).
	if len(none) > 0 {
		if err := l.suppressions(ctx, none, purpose, ch, at); err != nil {
			return nil, err
		}
		for p, st := range none {
			out[p] = st
		}
	}
	if len(later) > 0 {
		m, err := l.States(ctx, later, purpose, ch, at)
		if err != nil {
			return nil, err
		}
		for p, st := range m {
			out[p] = st
		}
	}
	return out, nil
}
