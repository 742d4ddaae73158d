package gate

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/store"
)

// The gate decides from memory: the consent state (consent_state, which
// internal/consent keeps equal to the fold of the ledger), the marketing
// sends of the last 32 days (gate_sends) and the policies, loaded at the
// first decision and kept current by tailing the database before each
// decision (at most once per tailEvery, and at once after a change this
// process made or was told of: Consume, ConsentChanged). A stale cache can
// only err in a decision: Consume re-checks consent and caps in the
// database, in the sender's transaction, so it never lets through a send
// the database refuses.

// tailEvery is how stale the cache may be when nothing told the gate of a
// change; forceFor is how long after such a notice every decision tails
// (the change's transaction commits shortly after the notice).
const (
	tailEvery = time.Millisecond
	forceFor  = 250 * time.Millisecond
)

// Each refresh reads the sends stamped at or after the latest one seen; a
// send is stamped with its node's clock when Consume runs and committed a
// little later, so once per sweepEvery a refresh reads again the last
// sendsOverlap of them (duplicates are told apart by permit id) and the
// policies: a send committed late, or on a node whose clock is behind, is
// counted within a second (as long as the delay or the clocks' difference
// stays within the overlap).
//
// On SQLite the sends are tailed by rowid instead: one writer at a time
// (the write lock is taken at BEGIN) gives each new row the largest rowid
// yet, in the order of the commits, and Kith neither deletes the latest
// sends nor runs VACUUM (which may renumber rowids), so "rowid above the
// last one read" misses nothing and reads nothing twice. Without it, every
// sweep read again the last two minutes of sends and kept their permit ids
// in memory: 1.2 million of each at 10,000 messages per second.
const (
	sendsOverlap = 2 * time.Minute
	sweepEvery   = time.Second
)

// capHorizon is how far back sends can count (the longest cap window is a
// month).
const capHorizon = 32 * 24 * time.Hour

// stateKey names a consent_state row.
type stateKey struct {
	person  consent.Person
	purpose consent.Purpose
	channel consent.Channel
}

// entry is a consent_state row as the gate needs it; times are Unix
// microseconds.
type entry struct {
	eventID      int64
	receivedAt   int64
	validUntil   int64 // 0: none
	suppressedAt int64
	scope        *consent.Scope
	action       action
	customer     bool // the deciding event is the person's own action
	suppressed   bool
}

// action is a consent.Action in one byte (an entry is kept per person:
// a string would take 16 bytes and a pointer for the collector to follow).
type action uint8

const (
	actionOther action = iota
	actionGrant
	actionWithdraw
	actionRefuse
)

func actionOf(a string) action {
	switch consent.Action(a) {
	case consent.Grant:
		return actionGrant
	case consent.Withdraw:
		return actionWithdraw
	case consent.Refuse:
		return actionRefuse
	}
	return actionOther
}

// supKey names a consent_suppressions row.
type supKey struct {
	subject string
	purpose consent.Purpose
	channel consent.Channel
}

// sendKey names the sends one cap counts.
type sendKey struct {
	person  consent.Person
	channel consent.Channel
}

// cache is the gate's in-memory state. mu guards the maps; tailMu makes
// one refresh at a time.
type cache struct {
	mu       sync.RWMutex
	loaded   atomic.Bool
	states   *stateTable
	sends    *sendTable       // marketing sends, Unix µs
	seen     map[string]int64 // permit ids of sends read within sendsOverlap, by at
	policies map[consent.Channel]Policy
	// sups are the suppressions (their created_at, Unix µs), for the
	// persons without a consent_state row.
	sups     map[supKey]int64
	key      []byte    // the suppression key
	seq      int64     // the consent_state_seq applied
	tailedAt time.Time // the gate clock at the last sweep of gate_sends
	sendsMax int64     // the latest send seen (Unix µs)
	sendsRow int64     // SQLite: the largest gate_sends rowid read
	sweptAt  int64     // monotonic ns of the last sweep
	scopes   map[string]*consent.Scope

	tailMu   sync.Mutex
	lastTail atomic.Int64 // monotonic ns (since start) of the last refresh
	forceTo  atomic.Int64 // monotonic ns until which every decision refreshes
	start    time.Time    // origin of the monotonic readings
	// paused stops refreshing after the load: tests use it to make the
	// cache stale on purpose.
	paused atomic.Bool
	// policyDirty makes the next refresh read the policies (SetPolicy).
	policyDirty atomic.Bool
}

func newCache(key []byte) *cache { return &cache{start: time.Now(), key: key} }

func (c *cache) mono() int64 { return int64(time.Since(c.start)) }

// force makes every decision refresh for the next forceFor.
func (c *cache) force() { c.forceTo.Store(c.mono() + int64(forceFor)) }

// ConsentChanged tells the gate that consent changed (a consent.Ledger's
// OnChange hook): the decisions of the next seconds read the change as soon
// as it is committed. Without it they do within a millisecond anyway.
func (g *Gate) ConsentChanged() { g.cache.force() }

// refresh loads the cache, or reads what changed since, when due: when
// tailEvery has passed since the last refresh (then a caller that finds
// another refresh running goes on with the cache as it is), or when a
// change was announced (then it waits for a refresh that started after it
// asked, so the change, once committed, is seen).
func (g *Gate) refresh(ctx context.Context, now time.Time) error {
	c := g.cache
	asked := c.mono()
	forced := asked <= c.forceTo.Load()
	if c.loaded.Load() && (c.paused.Load() || (!forced && asked-c.lastTail.Load() < int64(tailEvery))) {
		return nil
	}
	if c.loaded.Load() && !forced {
		if !c.tailMu.TryLock() {
			return nil
		}
	} else {
		c.tailMu.Lock()
	}
	defer c.tailMu.Unlock()
	if c.loaded.Load() && c.lastTail.Load() >= asked {
		return nil
	}
	start := c.mono()
	var err error
	if !c.loaded.Load() {
		err = g.load(ctx, now)
	} else {
		err = g.tail(ctx, now)
	}
	if err == nil {
		c.lastTail.Store(start)
	}
	return err
}

// readTx runs fn in a read-only transaction: one snapshot of the database.
func readTx(ctx context.Context, db *store.DB, fn func(tx *sql.Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if db.Dialect == store.Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := db.R.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(tx)
}

// load reads the whole state.
func (g *Gate) load(ctx context.Context, now time.Time) error {
	c := g.cache
	states := newStateTable()
	sends := newSendTable()
	seen := map[string]int64{}
	c.scopes = map[string]*consent.Scope{}
	sups := map[supKey]int64{}
	var seq, sendsMax, sendsRow int64
	var pols map[consent.Channel]Policy
	byRow := g.db.Dialect == store.SQLite
	err := readTx(ctx, g.db, func(tx *sql.Tx) error {
		var err error
		if err = tx.QueryRowContext(ctx, "SELECT seq FROM consent_state_seq WHERE one = 1").Scan(&seq); err != nil {
			return err
		}
		if err = readSuppressions(ctx, tx, "", nil, sups); err != nil {
			return err
		}
		if err = g.readStates(ctx, tx, "", nil, func(k stateKey, e entry) { states.put(k, e) }); err != nil {
			return err
		}
		if byRow {
			if err = tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(rowid), 0) FROM gate_sends").Scan(&sendsRow); err != nil {
				return err
			}
		}
		recent := now.Add(-sendsOverlap).UnixMicro()
		if err = readSends(ctx, tx, now.Add(-capHorizon), false, func(id string, k sendKey, t int64) {
			sends.add(k, 0, t)
			if t >= recent && !byRow {
				seen[id] = t
			}
			sendsMax = max(sendsMax, t)
		}); err != nil {
			return err
		}
		pols, err = readPolicies(ctx, tx)
		return err
	})
	if err != nil {
		return fmt.Errorf("gate: load state: %w", err)
	}
	c.mu.Lock()
	c.states, c.sends, c.seen, c.policies, c.sups, c.seq, c.tailedAt = states, sends, seen, pols, sups, seq, now
	c.sendsMax, c.sendsRow, c.sweptAt = sendsMax, sendsRow, c.mono()
	c.mu.Unlock()
	c.loaded.Store(true)
	return nil
}

// tail applies what changed since the last load or tail.
func (g *Gate) tail(ctx context.Context, now time.Time) error {
	c := g.cache
	type change struct {
		k stateKey
		e entry
	}
	var changes []change
	var erased []int64
	newSups := map[supKey]int64{}
	var seq int64
	var pols map[consent.Channel]Policy
	newSends := map[sendKey][]int64{}
	c.mu.RLock()
	from, since, row := c.seq, time.UnixMicro(c.sendsMax), c.sendsRow
	seen := c.seen
	c.mu.RUnlock()
	byRow := g.db.Dialect == store.SQLite
	sweep := c.mono()-c.sweptAt >= int64(sweepEvery)
	if sweep {
		since = c.tailedAt.Add(-sendsOverlap)
		if now.Before(c.tailedAt) {
			since = now.Add(-sendsOverlap)
		}
	}
	readPols := sweep || c.policyDirty.Swap(false)
	fresh := map[string]int64{}
	err := readTx(ctx, g.db, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, "SELECT seq FROM consent_state_seq WHERE one = 1").Scan(&seq); err != nil {
			return err
		}
		if seq > from {
			rows, err := tx.QueryContext(ctx, "SELECT event_id FROM consent_state_erased WHERE seq > $1 AND seq <= $2", from, seq)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				erased = append(erased, id)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if err := readSuppressions(ctx, tx, "WHERE seq > $1 AND seq <= $2", []any{from, seq}, newSups); err != nil {
				return err
			}
			if err := g.readStates(ctx, tx, "WHERE seq > $1 AND seq <= $2", []any{from, seq}, func(k stateKey, e entry) {
				changes = append(changes, change{k, e})
			}); err != nil {
				return err
			}
		}
		if byRow {
			// SQLite: the rows written since the last read, exactly.
			var err error
			row, err = readSendsAfter(ctx, tx, row, func(k sendKey, t int64) {
				newSends[k] = append(newSends[k], t)
			})
			if err != nil {
				return err
			}
		} else if err := readSends(ctx, tx, since, !sweep, func(id string, k sendKey, t int64) {
			// Sends: only the ones not seen in the overlap.
			// Between sweeps, only sends stamped after the latest seen.
			if _, ok := seen[id]; !ok {
				newSends[k] = append(newSends[k], t)
				fresh[id] = t
			}
		}); err != nil {
			return err
		}
		if !readPols {
			return nil
		}
		var err error
		pols, err = readPolicies(ctx, tx)
		return err
	})
	if err != nil {
		if readPols {
			c.policyDirty.Store(true)
		}
		return fmt.Errorf("gate: refresh state: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(erased) > 0 {
		gone := make(map[int64]bool, len(erased))
		for _, id := range erased {
			gone[id] = true
		}
		c.states.deleteEvents(gone)
	}
	for _, ch := range changes {
		c.states.put(ch.k, ch.e)
	}
	for k, at := range newSups {
		c.sups[k] = at
	}
	horizon := now.Add(-capHorizon).UnixMicro()
	for k, ts := range newSends {
		c.sends.add(k, horizon, ts...)
	}
	for id, at := range fresh {
		c.seen[id] = at
		c.sendsMax = max(c.sendsMax, at)
	}
	c.sendsRow = max(c.sendsRow, row)
	if pols != nil {
		c.policies = pols
	}
	c.seq = max(c.seq, seq)
	if sweep {
		cut := since.UnixMicro()
		for id, at := range c.seen {
			if at < cut {
				delete(c.seen, id)
			}
		}
		if now.After(c.tailedAt) {
			c.tailedAt = now
		}
		c.sweptAt = c.mono()
	}
	return nil
}

// readStates reads consent_state rows (where: a condition with $N args).
func (g *Gate) readStates(ctx context.Context, tx *sql.Tx, where string, args []any, put func(stateKey, entry)) error {
	rows, err := tx.QueryContext(ctx, `SELECT person_kind, person_key, purpose, channel, action, valid_until, scope, event_id, suppressed,
		suppressed_at, received_at, source FROM consent_state `+where, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	kinds := map[string]consent.PersonKind{}
	purposes := map[string]consent.Purpose{}
	for rows.Next() {
		var kind, key, purpose, ch, act, scope, source string
		var valid, supAt sql.NullTime
		var received time.Time
		var e entry
		if err := rows.Scan(&kind, &key, &purpose, &ch, &act, &valid, &scope, &e.eventID, &e.suppressed, &supAt, &received, &source); err != nil {
			return err
		}
		k, ok := kinds[kind]
		if !ok {
			k = consent.PersonKind(kind)
			kinds[kind] = k
		}
		pu, ok := purposes[purpose]
		if !ok {
			pu = consent.Purpose(purpose)
			purposes[purpose] = pu
		}
		e.action = actionOf(act)
		e.customer = consent.Source(source) == consent.SourceCustomer
		e.receivedAt = received.UnixMicro()
		if valid.Valid {
			e.validUntil = valid.Time.UnixMicro()
		}
		if supAt.Valid {
			e.suppressedAt = supAt.Time.UnixMicro()
		}
		if scope != "" {
			s, ok := g.cache.scopes[scope]
			if !ok {
				s = new(consent.Scope)
				if err := json.Unmarshal([]byte(scope), s); err != nil {
					return fmt.Errorf("scope of consent event %d: %w", e.eventID, err)
				}
				g.cache.scopes[scope] = s
			}
			e.scope = s
		}
		put(stateKey{consent.Person{Kind: k, Key: key}, pu, consent.Channel(ch)}, e)
	}
	return rows.Err()
}

// readSuppressions adds consent_suppressions rows (where: a condition with
// $N args) to sups.
func readSuppressions(ctx context.Context, tx *sql.Tx, where string, args []any, sups map[supKey]int64) error {
	rows, err := tx.QueryContext(ctx, "SELECT subject_hash, purpose, channel, created_at FROM consent_suppressions "+where, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k supKey
		var pu, ch string
		var at time.Time
		if err := rows.Scan(&k.subject, &pu, &ch, &at); err != nil {
			return err
		}
		k.purpose, k.channel = consent.Purpose(pu), consent.Channel(ch)
		sups[k] = at.UnixMicro()
	}
	return rows.Err()
}

// readSends calls add for each marketing send at or after since (after
// since, when after is set).
func readSends(ctx context.Context, tx *sql.Tx, since time.Time, after bool, add func(id string, k sendKey, t int64)) error {
	op := ">="
	if after {
		op = ">"
	}
	rows, err := tx.QueryContext(ctx, "SELECT permit_id, person_kind, person_key, channel, at FROM gate_sends WHERE class = 'marketing' AND at "+op+" $1", since.UTC())
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, kind, key, ch string
		var at time.Time
		if err := rows.Scan(&id, &kind, &key, &ch, &at); err != nil {
			return err
		}
		add(id, sendKey{consent.Person{Kind: consent.PersonKind(kind), Key: key}, consent.Channel(ch)}, at.UnixMicro())
	}
	return rows.Err()
}

// readSendsAfter (SQLite) calls add for each marketing send whose rowid is
// above after, and returns the largest rowid read (after when none).
func readSendsAfter(ctx context.Context, tx *sql.Tx, after int64, add func(k sendKey, t int64)) (int64, error) {
	rows, err := tx.QueryContext(ctx, "SELECT rowid, person_kind, person_key, channel, class, at FROM gate_sends WHERE rowid > $1", after)
	if err != nil {
		return after, err
	}
	defer rows.Close()
	for rows.Next() {
		var row int64
		var kind, key, ch, class string
		var at time.Time
		if err := rows.Scan(&row, &kind, &key, &ch, &class, &at); err != nil {
			return after, err
		}
		after = max(after, row)
		if Class(class) == Marketing {
			add(sendKey{consent.Person{Kind: consent.PersonKind(kind), Key: key}, consent.Channel(ch)}, at.UnixMicro())
		}
	}
	return after, rows.Err()
}

// readPolicies reads every channel's policy (DefaultPolicy where unset).
func readPolicies(ctx context.Context, q store.Querier) (map[consent.Channel]Policy, error) {
	out := map[consent.Channel]Policy{}
	for _, ch := range consent.Channels {
		out[ch] = DefaultPolicy(ch)
	}
	rows, err := q.QueryContext(ctx, "SELECT channel, cap_day, cap_week, cap_month, quiet_start, quiet_end, wecom_rule FROM gate_policy")
	if err != nil {
		return nil, fmt.Errorf("gate: policies: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ch, rule string
		var p Policy
		if err := rows.Scan(&ch, &p.CapDay, &p.CapWeek, &p.CapMonth, &p.QuietStart, &p.QuietEnd, &rule); err != nil {
			return nil, fmt.Errorf("gate: policies: %w", err)
		}
		p.Channel, p.WeComRule = consent.Channel(ch), PlatformRule(rule)
		out[p.Channel] = p
	}
	return out, rows.Err()
}

// view returns the consent of k as of now, from the cache (mu held).
func (c *cache) view(k stateKey, now int64, w *worker) view {
	e, ok := c.states.get(k)
	if !ok {
		// No consent; an erased or suppressed person is refused as such.
		v := view{status: consent.StatusNone}
		if len(c.sups) > 0 {
			if w.hasher == nil {
				w.hasher = consent.NewSuppressionHasher(c.key)
			}
			at, ok := c.sups[supKey{w.hasher.Hash(k.person), k.purpose, k.channel}]
			v.suppressed = ok && at <= now
		}
		return v
	}
	v := view{eventID: e.eventID, scope: e.scope, suppressed: e.suppressed}
	switch e.action {
	case actionGrant:
		v.status = consent.StatusGranted
		if e.validUntil != 0 && now > e.validUntil {
			v.status = consent.StatusExpired
		}
	case actionWithdraw:
		v.status = consent.StatusWithdrawn
	case actionRefuse:
		v.status = consent.StatusRefused
	}
	v.permits = v.status == consent.StatusGranted && (!e.suppressed || (e.customer && e.receivedAt > e.suppressedAt))
	return v
}
