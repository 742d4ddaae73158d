package audit

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
)

// Kinds of break Verify and VerifyCheckpoint report.
const (
	BreakChanged   = "changed"   // an entry is not what was appended
	BreakRemoved   = "removed"   // entries are missing: a gap in seq
	BreakInserted  = "inserted"  // an entry that was never appended sits in the chain
	BreakTruncated = "truncated" // the log ends before a checkpoint's seq
	BreakRewritten = "rewritten" // the entry at a checkpoint's seq is not the one checkpointed
)

// Break is the first broken link found.
type Break struct {
	Seq      int64  // the first entry found wrong (or missing)
	Kind     string // BreakChanged, BreakRemoved, …
	Expected string // what the chain or the checkpoint says
	Found    string // what the database holds
	Reason   string // one sentence for people
}

// Report is the outcome of walking the log.
type Report struct {
	Entries    int64       // entries read, up to the break
	Last       int64       // seq of the last entry read, 0 if none
	Head       string      // hash of the last entry read; Genesis if none
	Checkpoint *Checkpoint // the checkpoint checked against, if any
	Break      *Break      // the first broken link; nil when the log is intact
}

// OK reports whether no break was found.
func (r Report) OK() bool { return r.Break == nil }

// String says in one line whether the log is intact.
func (r Report) String() string {
	if b := r.Break; b != nil {
		return fmt.Sprintf("audit log broken at seq %d (%s): %s", b.Seq, b.Kind, b.Reason)
	}
	s := fmt.Sprintf("audit log intact: %d entries", r.Entries)
	if r.Entries == 1 {
		s = "audit log intact: 1 entry"
	}
	if r.Entries > 0 {
		s += fmt.Sprintf(" (seq 1–%d), head %s", r.Last, r.Head)
	}
	if cp := r.Checkpoint; cp != nil {
		s += fmt.Sprintf("; extends the checkpoint at seq %d", cp.Seq)
	}
	return s
}

// Checkpoint pins the log as it was: the seq and hash of its last entry. Kept
// where the database's owner cannot change it, it later proves that the log
// was neither cut short nor rewritten up to that entry.
type Checkpoint struct {
	Seq  int64     `json:"seq"`
	Hash string    `json:"hash"`
	At   time.Time `json:"at"` // when it was taken
}

var hashRe = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Check validates a checkpoint read from a file.
func (cp Checkpoint) Check() error {
	if cp.Seq < 0 {
		return kith.Errorf(kith.EINVALID, "checkpoint: seq %d is negative", cp.Seq)
	}
	if !hashRe.MatchString(cp.Hash) {
		return kith.Errorf(kith.EINVALID, "checkpoint: hash %q is not 64 lowercase hex digits", cp.Hash)
	}
	if cp.Seq == 0 && cp.Hash != Genesis {
		return kith.Errorf(kith.EINVALID, "checkpoint: seq 0 (an empty log) must have the genesis hash of 64 zeros")
	}
	return nil
}

// Verify walks the whole log in seq order, recomputing every hash, and
// reports the first broken link in the Report. The error is for failures to
// read the log, not for what was found in it.
func (l *Log) Verify(ctx context.Context) (Report, error) {
	return l.walk(ctx, nil)
}

// VerifyCheckpoint verifies the log as Verify does and also that it still
// extends cp: that the entry at cp.Seq exists and has cp.Hash. A log cut
// short before cp.Seq is reported truncated; one with another entry there,
// rewritten.
func (l *Log) VerifyCheckpoint(ctx context.Context, cp Checkpoint) (Report, error) {
	if err := cp.Check(); err != nil {
		return Report{}, err
	}
	return l.walk(ctx, &cp)
}

// Checkpoint verifies the log and returns a checkpoint of its last entry.
// It refuses (ECONFLICT) when the log is broken: a checkpoint vouches for
// everything before it.
func (l *Log) Checkpoint(ctx context.Context) (Checkpoint, error) {
	r, err := l.Verify(ctx)
	if err != nil {
		return Checkpoint{}, err
	}
	if !r.OK() {
		return Checkpoint{}, kith.Errorf(kith.ECONFLICT, "no checkpoint taken: %s", r)
	}
	return Checkpoint{Seq: r.Last, Hash: r.Head, At: l.clock.Now().UTC()}, nil
}

// walk reads every entry once, in seq order, with constant memory.
func (l *Log) walk(ctx context.Context, cp *Checkpoint) (Report, error) {
	rep := Report{Head: Genesis, Checkpoint: cp}
	rows, err := l.db.R.QueryContext(ctx, "SELECT "+columns+" FROM audit_log ORDER BY seq")
	if err != nil {
		return rep, fmt.Errorf("audit: verify: %w", err)
	}
	defer rows.Close()
	var prevPrev string // hash of the entry two back, "" before seq 2
	for rows.Next() {
		var e Entry
		var at atValue
		if err := scanInto(rows, &e, &at); err != nil {
			return rep, fmt.Errorf("audit: verify: %w", err)
		}
		if b := rep.check(&e, &at, prevPrev); b != nil {
			rep.Break = b
			return rep, nil
		}
		if cp != nil && e.Seq == cp.Seq && e.Hash != cp.Hash {
			rep.Break = &Break{Seq: e.Seq, Kind: BreakRewritten, Expected: cp.Hash, Found: e.Hash,
				Reason: fmt.Sprintf("entry %d has hash %s, but the checkpoint says %s: the log was rewritten up to here", e.Seq, e.Hash, cp.Hash)}
			return rep, nil
		}
		prevPrev = rep.Head
		rep.Entries++
		rep.Last, rep.Head = e.Seq, e.Hash
	}
	if err := rows.Err(); err != nil {
		return rep, fmt.Errorf("audit: verify: %w", err)
	}
	if cp != nil && cp.Seq > rep.Last {
		rep.Break = &Break{Seq: rep.Last + 1, Kind: BreakTruncated,
			Expected: fmt.Sprintf("seq %d", cp.Seq), Found: fmt.Sprintf("seq %d", rep.Last),
			Reason: fmt.Sprintf("the log ends at seq %d, but the checkpoint has seq %d: entries %d to %d were removed", rep.Last, cp.Seq, rep.Last+1, cp.Seq)}
	}
	return rep, nil
}

// check finds what is wrong with e, given the entries before it (rep.Last,
// rep.Head and prevPrev); nil if e continues the chain.
func (rep *Report) check(e *Entry, at *atValue, prevPrev string) *Break {
	want := rep.Last + 1
	if e.Seq > want {
		what := fmt.Sprintf("entry %d is missing", want)
		if e.Seq > want+1 {
			what = fmt.Sprintf("entries %d to %d are missing", want, e.Seq-1)
		}
		return &Break{Seq: want, Kind: BreakRemoved, Expected: fmt.Sprintf("seq %d", want), Found: fmt.Sprintf("seq %d", e.Seq),
			Reason: fmt.Sprintf("%s: after seq %d comes seq %d", what, rep.Last, e.Seq)}
	}
	if e.Seq < want { // only a first entry below 1: seq is the primary key
		return &Break{Seq: e.Seq, Kind: BreakInserted, Expected: "seq 1", Found: fmt.Sprintf("seq %d", e.Seq),
			Reason: fmt.Sprintf("entry %d comes before the start of the chain at seq 1", e.Seq)}
	}
	if !at.ok {
		return &Break{Seq: e.Seq, Kind: BreakChanged, Expected: "a time", Found: at.raw,
			Reason: fmt.Sprintf("entry %d was changed: its time %q cannot be read", e.Seq, at.raw)}
	}
	e.At = at.t
	sum := e.ComputeHash()
	if e.PrevHash != rep.Head {
		switch {
		case e.Seq > 1 && e.PrevHash == prevPrev:
			// e links to the entry two back: the one between was never
			// part of the chain.
			return &Break{Seq: e.Seq - 1, Kind: BreakInserted, Expected: prevPrev, Found: rep.Head,
				Reason: fmt.Sprintf("entry %d was inserted: entry %d links past it to entry %d", e.Seq-1, e.Seq, e.Seq-2)}
		case sum != e.Hash || e.Seq == 1:
			return &Break{Seq: e.Seq, Kind: BreakChanged, Expected: rep.Head, Found: e.PrevHash,
				Reason: fmt.Sprintf("entry %d was changed: its prev_hash is %s, not %s", e.Seq, e.PrevHash, rep.Head)}
		default:
			// e is whole, but the entry before no longer has the hash e
			// recorded for it: that one was changed and its hash
			// recomputed (or e was re-linked with a recomputed hash).
			return &Break{Seq: e.Seq - 1, Kind: BreakChanged, Expected: e.PrevHash, Found: rep.Head,
				Reason: fmt.Sprintf("entry %d was changed and its hash recomputed: entry %d recorded its hash as %s, it is now %s", e.Seq-1, e.Seq, e.PrevHash, rep.Head)}
		}
	}
	if sum != e.Hash {
		return &Break{Seq: e.Seq, Kind: BreakChanged, Expected: sum, Found: e.Hash,
			Reason: fmt.Sprintf("entry %d was changed: its fields hash to %s, but its stored hash is %s", e.Seq, sum, e.Hash)}
	}
	return nil
}
