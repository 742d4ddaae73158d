package gate

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/kith"
)

// Every decision is recorded before the caller sees it: a DecideBatch call
// writes one gate_batches row holding all its decisions as a JSON array
// (the columns of gate_decisions, which is a view of it, and what a permit
// needs), concurrent Decide calls share one row (group commit). A decision's
// id is "d<batch>-<index>"; an allowed one's permit token is an HMAC of the
// id and the permit's contents (permit.go), so no permit row is written.

// The fields of one recorded decision, by position in its JSON array.
const (
	fKind = iota
	fKey
	fChannel
	fPurpose
	fClass
	fCampaign
	fSender
	fAllowed
	fReason
	fDetail
	fEvent
	fTZ
	fType
	fSendAt
	fExpires
	nFields
)

// record writes the decisions of reqs (out[i] decides reqs[i], made at
// nows[i], or all at nows[0] when nows has one element) as one batch, and
// gives each its id and each allowed one its permit.
func (g *Gate) record(ctx context.Context, reqs []Request, out []Decision, nows []time.Time) error {
	at := nows[0]
	for _, t := range nows {
		if t.Before(at) {
			at = t
		}
	}
	nowOf := func(i int) time.Time {
		if len(nows) == 1 {
			return nows[0]
		}
		return nows[i]
	}
	expires := make([]time.Time, len(out))
	var last time.Time
	for i := range out {
		d, r := &out[i], &reqs[i]
		if d.Allowed {
			now := nowOf(i)
			expires[i] = now.Add(PermitTTL).Truncate(time.Microsecond)
			if r.At.After(now) {
				expires[i] = r.At.UTC().Add(PermitTTL).Truncate(time.Microsecond)
			}
			if expires[i].After(last) {
				last = expires[i]
			}
		}
	}
	// Encode in parts, on every CPU for a large batch.
	parts := splitRange(len(out))
	bufs := make([][]byte, len(parts))
	inParallel(len(parts), func(k int) {
		b := make([]byte, 0, 180*(parts[k][1]-parts[k][0]))
		for i := parts[k][0]; i < parts[k][1]; i++ {
			b = appendDecision(b, &reqs[i], &out[i], expires[i])
			b = append(b, ',')
		}
		bufs[k] = b
	})
	size := 2
	for _, b := range bufs {
		size += len(b)
	}
	buf := make([]byte, 0, size)
	buf = append(buf, '[')
	for _, b := range bufs {
		buf = append(buf, b...)
	}
	if len(buf) > 1 {
		buf = buf[:len(buf)-1] // the last comma
	}
	buf = append(buf, ']')
	var lastArg any
	if !last.IsZero() {
		lastArg = last
	}
	var batch int64
	stmt, err := g.insertBatch(ctx)
	if err != nil {
		return fmt.Errorf("gate: record decisions: %w", err)
	}
	err = g.db.InTx(ctx, func(tx *sql.Tx) error {
		return tx.StmtContext(ctx, stmt).QueryRowContext(ctx, at.UTC().Truncate(time.Microsecond), len(out), string(buf), lastArg).Scan(&batch)
	})
	if err != nil {
		return fmt.Errorf("gate: record decisions: %w", err)
	}
	prefix := "d" + strconv.FormatInt(batch, 10) + "-"
	inParallel(len(parts), func(k int) {
		tk := newTokener(g.permitKey)
		for i := parts[k][0]; i < parts[k][1]; i++ {
			d, r := &out[i], &reqs[i]
			d.ID = prefix + strconv.Itoa(i)
			if !d.Allowed {
				continue
			}
			p := &permit{id: d.ID, person: r.Person, channel: r.Channel, purpose: r.Purpose, class: r.Class, msgType: clip(r.Type),
				campaign: clip(r.Campaign), sender: clip(r.Sender), tz: r.Location.String(), expires: expires[i]}
			p.token = tk.token(p)
			d.Permit = Permit{p}
		}
	})
	return nil
}

// insertBatch returns the INSERT of a batch row, prepared once.
func (g *Gate) insertBatch(ctx context.Context) (*sql.Stmt, error) {
	g.stmtMu.Lock()
	defer g.stmtMu.Unlock()
	if g.insertStmt == nil {
		stmt, err := g.db.W.PrepareContext(ctx, "INSERT INTO gate_batches (at, n, data, expires_at) VALUES ($1, $2, $3, $4) RETURNING id")
		if err != nil {
			return nil, err
		}
		g.insertStmt = stmt
	}
	return g.insertStmt, nil
}

// parallelMin is the smallest batch whose work is split between the CPUs.
const parallelMin = 256

// splitRange splits [0, n) into one range per CPU (one range when n is
// small).
func splitRange(n int) [][2]int {
	k := runtime.GOMAXPROCS(0)
	if n < parallelMin || k < 2 {
		return [][2]int{{0, n}}
	}
	out := make([][2]int, k)
	for j := range k {
		out[j] = [2]int{j * n / k, (j + 1) * n / k}
	}
	return out
}

// inParallel runs fn(0) … fn(n-1) at once and waits for them.
func inParallel(n int, fn func(k int)) {
	if n == 1 {
		fn(0)
		return
	}
	var wg sync.WaitGroup
	for k := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(k)
		}()
	}
	wg.Wait()
}

// appendDecision appends the JSON array of one decision.
func appendDecision(b []byte, r *Request, d *Decision, expires time.Time) []byte {
	tz := ""
	if r.Location != nil {
		tz = r.Location.String()
	}
	b = append(b, '[')
	for _, s := range []string{string(r.Person.Kind), r.Person.Key, string(r.Channel), string(r.Purpose), string(r.Class), r.Campaign, r.Sender} {
		b = appendString(b, clip(s))
		b = append(b, ',')
	}
	b = strconv.AppendBool(b, d.Allowed)
	b = append(b, ',')
	b = appendString(b, string(d.Reason))
	b = append(b, ',')
	b = appendString(b, clip(d.Message))
	b = append(b, ',')
	if d.ConsentEventID != 0 {
		b = strconv.AppendInt(b, d.ConsentEventID, 10)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, ',')
	b = appendString(b, tz)
	b = append(b, ',')
	b = appendString(b, clip(r.Type))
	b = append(b, ',')
	var sendAt, exp int64
	if !r.At.IsZero() {
		sendAt = r.At.UnixMicro()
	}
	if !expires.IsZero() {
		exp = expires.UnixMicro()
	}
	b = strconv.AppendInt(b, sendAt, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, exp, 10)
	return append(b, ']')
}

// appendString appends s (valid UTF-8) as a JSON string.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\t':
			b = append(b, '\\', 't')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// clip bounds what a refused, malformed request puts in the record: at most
// 300 bytes of valid UTF-8.
func clip(s string) string {
	if len(s) > 300 {
		s = s[:300]
	}
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "")
}

// group is the decisions of concurrent Decide calls written together.
type group struct {
	reqs []Request
	decs []Decision
	nows []time.Time
	done chan struct{}
	err  error
}

// commitOne records d (the decision of r at now) with those of the Decide
// calls running at the same time, in one write, and returns it with its id
// and permit. The first caller to find no write running writes, until no
// decision waits; the others wait for their group.
func (g *Gate) commitOne(ctx context.Context, r Request, d Decision, now time.Time) (Decision, error) {
	g.gmu.Lock()
	if g.open == nil {
		g.open = &group{done: make(chan struct{})}
	}
	grp := g.open
	i := len(grp.reqs)
	grp.reqs = append(grp.reqs, r)
	grp.decs = append(grp.decs, d)
	grp.nows = append(grp.nows, now)
	lead := !g.writing
	g.writing = true
	g.gmu.Unlock()
	if lead {
		wctx := context.WithoutCancel(ctx) // the others' decisions do not depend on this caller's context
		for {
			// Let the callers that are ready to run join the group first:
			// one write for more decisions.
			runtime.Gosched()
			g.gmu.Lock()
			next := g.open
			g.open = nil
			if next == nil {
				g.writing = false
				g.gmu.Unlock()
				break
			}
			g.gmu.Unlock()
			next.err = g.record(wctx, next.reqs, next.decs, next.nows)
			close(next.done)
		}
	}
	select {
	case <-grp.done:
	case <-ctx.Done():
		return Decision{}, ctx.Err()
	}
	if grp.err != nil {
		return Decision{}, grp.err
	}
	return grp.decs[i], nil
}

// recorded is one decision as read back from gate_batches.
type recorded struct {
	id       string
	at       time.Time
	person   consent.Person
	channel  consent.Channel
	purpose  consent.Purpose
	class    Class
	campaign string
	sender   string
	allowed  bool
	reason   Reason
	detail   string
	event    int64
	expires  time.Time
}

// parseID splits a decision id into its batch and index.
func parseID(id string) (batch int64, index int, ok bool) {
	rest, found := strings.CutPrefix(id, "d")
	if !found {
		return 0, 0, false
	}
	b, i, found := strings.Cut(rest, "-")
	if !found {
		return 0, 0, false
	}
	batch, err1 := strconv.ParseInt(b, 10, 64)
	index, err2 := strconv.Atoi(i)
	return batch, index, err1 == nil && err2 == nil && batch > 0 && index >= 0
}

// decodeBatch returns the decisions of a batch row for which keep (given
// the index and the raw fields) is true.
func decodeBatch(batch int64, at time.Time, data string, keep func(i int, f []json.RawMessage) bool) ([]recorded, error) {
	var rows [][]json.RawMessage
	if err := json.Unmarshal([]byte(data), &rows); err != nil {
		return nil, fmt.Errorf("gate: batch %d: %w", batch, err)
	}
	var out []recorded
	for i, f := range rows {
		if len(f) != nFields {
			return nil, kith.Errorf(kith.EINTERNAL, "gate: batch %d: decision %d has %d fields, want %d", batch, i, len(f), nFields)
		}
		if !keep(i, f) {
			continue
		}
		var r recorded
		var kind, ch, purpose, class, reason string
		var event *int64
		var expires int64
		for j, dst := range []any{&kind, &r.person.Key, &ch, &purpose, &class, &r.campaign, &r.sender, &r.allowed, &reason, &r.detail, &event} {
			if err := json.Unmarshal(f[j], dst); err != nil {
				return nil, fmt.Errorf("gate: batch %d: decision %d field %d: %w", batch, i, j, err)
			}
		}
		if err := json.Unmarshal(f[fExpires], &expires); err != nil {
			return nil, fmt.Errorf("gate: batch %d: decision %d: %w", batch, i, err)
		}
		r.id = "d" + strconv.FormatInt(batch, 10) + "-" + strconv.Itoa(i)
		r.at = at.UTC()
		r.person.Kind, r.channel, r.purpose, r.class, r.reason = consent.PersonKind(kind), consent.Channel(ch), consent.Purpose(purpose), Class(class), Reason(reason)
		if event != nil {
			r.event = *event
		}
		if expires != 0 {
			r.expires = time.UnixMicro(expires).UTC()
		}
		out = append(out, r)
	}
	return out, nil
}
