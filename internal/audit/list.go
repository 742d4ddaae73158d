package audit

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/kith"
)

// Filter narrows a list or an export. Every field set must match.
type Filter struct {
	Person string // the data subject's id
	// Actor is a name ("alice"), or kind and name ("user:alice", "token:erp").
	Actor string
	// Action is one action ("pii.read") or every action under a prefix
	// ("auth.*").
	Action string
	Since  time.Time // entries at or after Since, when set
	Until  time.Time // entries before Until, when set
	Before int64     // keyset: entries with a smaller seq; 0 from the newest
	// Limit is the page size of List, 1–500 (0 means 50); for Export, the
	// most entries to write (0 for all).
	Limit int
}

// Export formats.
const (
	FormatCSV   = "csv"
	FormatJSONL = "jsonl"
)

// columns are what every query reads, in the order scanInto expects. Text
// is read through COALESCE so that a NULL someone put there by hand shows
// as a changed entry rather than a failed read.
const columns = `seq, at, COALESCE(actor_kind, ''), COALESCE(actor, ''), COALESCE(action, ''),
	COALESCE(object_type, ''), COALESCE(object_id, ''), COALESCE(person, ''), COALESCE(purpose, ''),
	COALESCE(outcome, ''), COALESCE(detail, ''), COALESCE(prev_hash, ''), COALESCE(hash, '')`

type scanner interface{ Scan(dest ...any) error }

func scanInto(r scanner, e *Entry, at *atValue) error {
	return r.Scan(&e.Seq, at, &e.Actor.Kind, &e.Actor.Name, &e.Action, &e.ObjectType, &e.ObjectID,
		&e.Person, &e.Purpose, &e.Outcome, &e.Detail, &e.PrevHash, &e.Hash)
}

func scanEntry(r scanner) (Entry, error) {
	var e Entry
	var at atValue
	if err := scanInto(r, &e, &at); err != nil {
		return e, fmt.Errorf("audit: read entry: %w", err)
	}
	if !at.ok {
		return e, fmt.Errorf("audit: entry %d: its time %q cannot be read", e.Seq, at.raw)
	}
	e.At = at.t
	return e, nil
}

// atValue takes the at column as whatever the driver gives, so that Verify
// can report a time edited into nonsense instead of failing to read it.
type atValue struct {
	t   time.Time
	ok  bool
	raw string
}

func (a *atValue) Scan(v any) error {
	switch x := v.(type) {
	case time.Time:
		a.t, a.ok = x.UTC(), true
	case nil:
		a.raw = "NULL"
	case []byte:
		a.raw = string(x)
	default:
		a.raw = fmt.Sprint(x)
	}
	return nil
}

// where turns a filter into SQL conditions and arguments ($1, $2, …).
func (f Filter) where() ([]string, []any, error) {
	var conds []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args))))
	}
	if f.Person != "" {
		// The second condition lets the partial index on person be used.
		add("person = $? AND person <> ''", f.Person)
	}
	if f.Actor != "" {
		kind, name, ok := strings.Cut(f.Actor, ":")
		if ok && ValidActorKind(kind) {
			add("actor_kind = $?", kind)
			add("actor = $?", name)
		} else {
			add("actor = $?", f.Actor)
		}
	}
	if err := f.CheckAction(); err != nil {
		return nil, nil, err
	}
	if f.Action != "" {
		if prefix, ok := strings.CutSuffix(f.Action, ".*"); ok {
			// A range rather than LIKE: it uses the index and is
			// case-sensitive on both databases ('/' follows '.').
			add("action >= $?", prefix+".")
			add("action < $?", prefix+"/")
		} else {
			add("action = $?", f.Action)
		}
	}
	if !f.Since.IsZero() {
		add("at >= $?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		if !f.Since.IsZero() && !f.Until.After(f.Since) {
			return nil, nil, kith.Errorf(kith.EINVALID, "the end of the time range (%s) must be after its start (%s)", f.Until.UTC().Format(time.RFC3339), f.Since.UTC().Format(time.RFC3339))
		}
		add("at < $?", f.Until.UTC())
	}
	if f.Before < 0 {
		return nil, nil, kith.Errorf(kith.EINVALID, "before must be a seq, not %d", f.Before)
	}
	if f.Before > 0 {
		add("seq < $?", f.Before)
	}
	return conds, args, nil
}

// List returns entries matching f, newest first, and the Before of the next
// page (0 at the end).
func (l *Log) List(ctx context.Context, f Filter) ([]Entry, int64, error) {
	if f.Limit == 0 {
		f.Limit = 50
	}
	if f.Limit < 1 || f.Limit > 500 {
		return nil, 0, kith.Errorf(kith.EINVALID, "limit must be from 1 to 500, not %d", f.Limit)
	}
	conds, args, err := f.where()
	if err != nil {
		return nil, 0, err
	}
	q := "SELECT " + columns + " FROM audit_log"
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	args = append(args, f.Limit+1)
	q += fmt.Sprintf(" ORDER BY seq DESC LIMIT $%d", len(args))
	rows, err := l.db.R.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("audit: list: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("audit: list: %w", err)
	}
	var next int64
	if len(out) > f.Limit {
		out = out[:f.Limit]
		next = out[len(out)-1].Seq
	}
	return out, next, nil
}

// Get returns the entry with the seq, or an ENOTFOUND error.
func (l *Log) Get(ctx context.Context, seq int64) (Entry, error) {
	e, err := scanEntry(l.db.R.QueryRowContext(ctx, "SELECT "+columns+" FROM audit_log WHERE seq = $1", seq))
	if errors.Is(err, sql.ErrNoRows) {
		return Entry{}, kith.Errorf(kith.ENOTFOUND, "no audit entry %d", seq)
	}
	return e, err
}

// exportPage is how many entries Export reads per query.
const exportPage = 500

// Export writes the entries matching f to w, oldest first, as CSV (with a
// header row) or JSON Lines, and returns how many it wrote. It reads a page
// at a time, so memory stays bounded however long the log; entries appended
// while it runs are left out.
//
// JSON Lines is exact: every field as stored and hashed (see MarshalJSON).
// CSV is for spreadsheets: a cell that a spreadsheet would run as a formula
// (one starting with =, +, -, @, a tab or a carriage return) gets a leading
// apostrophe.
func (l *Log) Export(ctx context.Context, w io.Writer, f Filter, format string) (int64, error) {
	if format != FormatCSV && format != FormatJSONL {
		return 0, kith.Errorf(kith.EINVALID, "export format %q is unknown; use csv or jsonl", format)
	}
	if f.Limit < 0 {
		return 0, kith.Errorf(kith.EINVALID, "limit must not be negative")
	}
	conds, args, err := f.where()
	if err != nil {
		return 0, err
	}
	// Pin the end now, so the export is the log as it was when it began.
	var end int64
	if err := l.db.R.QueryRowContext(ctx, "SELECT COALESCE(max(seq), 0) FROM audit_log").Scan(&end); err != nil {
		return 0, fmt.Errorf("audit: export: %w", err)
	}
	write, flush := jsonlWriter(w)
	if format == FormatCSV {
		write, flush, err = csvWriter(w)
		if err != nil {
			return 0, err
		}
	}
	base := "SELECT " + columns + " FROM audit_log WHERE "
	if len(conds) > 0 {
		base += strings.Join(conds, " AND ") + " AND "
	}
	n := len(args)
	base += fmt.Sprintf("seq > $%d AND seq <= $%d ORDER BY seq LIMIT $%d", n+1, n+2, n+3)
	var after, written int64
	for {
		page := int64(exportPage)
		if f.Limit > 0 {
			page = min(page, int64(f.Limit)-written)
		}
		if page <= 0 {
			break
		}
		rows, err := l.db.R.QueryContext(ctx, base, append(args, after, end, page)...)
		if err != nil {
			return written, fmt.Errorf("audit: export: %w", err)
		}
		got := 0
		for rows.Next() {
			e, err := scanEntry(rows)
			if err == nil {
				err = write(e)
			}
			if err != nil {
				rows.Close()
				return written, err
			}
			after = e.Seq
			got++
			written++
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return written, fmt.Errorf("audit: export: %w", err)
		}
		if int64(got) < page {
			break
		}
	}
	return written, flush()
}

func jsonlWriter(w io.Writer) (func(Entry) error, func() error) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	write := func(e Entry) error {
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("audit: export: %w", err)
		}
		return nil
	}
	return write, func() error { return nil }
}

// csvHeader names the CSV columns as in the database.
var csvHeader = []string{"seq", "at", "actor_kind", "actor", "action", "object_type", "object_id",
	"person", "purpose", "outcome", "detail", "prev_hash", "hash"}

func csvWriter(w io.Writer) (func(Entry) error, func() error, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return nil, nil, fmt.Errorf("audit: export: %w", err)
	}
	write := func(e Entry) error {
		rec := []string{strconv.FormatInt(e.Seq, 10), FormatTime(e.At), e.Actor.Kind, e.Actor.Name, e.Action,
			e.ObjectType, e.ObjectID, e.Person, e.Purpose, e.Outcome, e.Detail, e.PrevHash, e.Hash}
		for i, v := range rec {
			rec[i] = defuseFormula(v)
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("audit: export: %w", err)
		}
		return nil
	}
	flush := func() error {
		cw.Flush()
		if err := cw.Error(); err != nil {
			return fmt.Errorf("audit: export: %w", err)
		}
		return nil
	}
	return write, flush, nil
}

// defuseFormula keeps a spreadsheet from running a cell as a formula: an
// actor or object id can come from outside (a user name typed at sign-in).
func defuseFormula(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// CheckAction returns an EINVALID error when the filter's Action is neither
// an action nor a prefix such as auth.*, so a caller can refuse it before
// recording that the log was read.
func (f Filter) CheckAction() error {
	if f.Action == "" {
		return nil
	}
	a, _ := strings.CutSuffix(f.Action, ".*")
	if !actionRe.MatchString(a) {
		return kith.Errorf(kith.EINVALID, "action filter %q: use an action such as pii.read or a prefix such as auth.*", f.Action)
	}
	return nil
}
