package protect

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/kith-scrm/kith/internal/fieldcrypt"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/store"
)

// DefaultBatch is how many values one rotation transaction re-seals.
const DefaultBatch = 500

// RotateReport says what a rotation did, for one column or in all.
type RotateReport struct {
	Column         string `json:"column,omitempty"`
	Resealed       int64  `json:"resealed"`        // values re-sealed under the current key
	AlreadyCurrent int64  `json:"already_current"` // values already sealed under it when the rotation started
	Failed         int64  `json:"failed"`          // values that could not be opened (unknown key or tampered); left as they are
	Changed        int64  `json:"changed"`         // values rewritten by someone else during their batch; left to that writer
	Batches        int    `json:"batches"`         // transactions committed
	// Failures names the failed rows by primary key (never their values).
	Failures []Failure `json:"failures,omitempty"`
}

// Failure is a value rotation could not open.
type Failure struct {
	Column string `json:"column"`
	Row    string `json:"row"`    // the primary key, columns joined by "/"
	KeyID  string `json:"key_id"` // the key it names, "" when it is not a sealed value
}

// maxFailures bounds the failures a report lists (it counts them all).
const maxFailures = 100

func (r *RotateReport) add(o RotateReport) {
	r.Resealed += o.Resealed
	r.AlreadyCurrent += o.AlreadyCurrent
	r.Failed += o.Failed
	r.Changed += o.Changed
	r.Batches += o.Batches
	for _, f := range o.Failures {
		if len(r.Failures) < maxFailures {
			r.Failures = append(r.Failures, f)
		}
	}
}

// Rotate re-seals every value not sealed under sealer's current key, column
// by column, batch values per transaction, and calls progress after each
// committed batch with the totals so far. Each batch commits on its own, so
// a rotation stopped at any point (ctx cancelled, crash) leaves every value
// sealed under one of the keys and readable, and running it again carries
// on where it stopped; a value already current is never rewritten. It
// returns the totals, with ctx's error when it was stopped.
func Rotate(ctx context.Context, db *store.DB, sealer *fieldcrypt.Sealer, batch int, progress func(RotateReport)) (RotateReport, error) {
	if batch < 1 {
		return RotateReport{}, kith.Errorf(kith.EINVALID, "the batch size is %d; it must be at least 1", batch)
	}
	counts, err := CountByKey(ctx, db.R)
	if err != nil {
		return RotateReport{}, err
	}
	cur := sealer.Current()
	total := RotateReport{AlreadyCurrent: counts[cur]}
	for _, c := range Columns() {
		err := c.rotate(ctx, db, sealer, batch, func(done RotateReport) {
			total.add(done)
			if progress != nil {
				p := total
				p.Column = c.Name
				progress(p)
			}
		})
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// rotate re-seals one column; done is called with what each committed
// batch did.
func (c Column) rotate(ctx context.Context, db *store.DB, sealer *fieldcrypt.Sealer, batch int, done func(RotateReport)) error {
	var cursor []any
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var got RotateReport
		var n int
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			var err error
			n, cursor, got, err = c.rotateBatch(ctx, tx, sealer, batch, cursor)
			return err
		})
		if err != nil {
			return fmt.Errorf("protect: rotate %s: %w", c.Name, err)
		}
		got.Batches = 1
		if n > 0 {
			done(got)
		}
		if n < batch {
			return nil
		}
	}
}

// rotateBatch re-seals up to batch values after cursor that are not under
// the current key, and returns how many it read and the new cursor.
func (c Column) rotateBatch(ctx context.Context, tx *sql.Tx, sealer *fieldcrypt.Sealer, batch int, cursor []any) (int, []any, RotateReport, error) {
	cur := sealer.Current()
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	var notCurrent string
	if c.KeyID != "" {
		notCurrent = c.KeyID + " <> " + arg(cur)
	} else {
		notCurrent = c.Value + " NOT LIKE " + arg("fc1:"+cur+":%")
	}
	after := ""
	if cursor != nil {
		ph := make([]string, len(cursor))
		for i, v := range cursor {
			ph[i] = arg(v)
		}
		after = "(" + strings.Join(c.Key, ", ") + ") > (" + strings.Join(ph, ", ") + ")"
	}
	ctxCol := "''"
	if c.ContextColumn != "" {
		ctxCol = c.ContextColumn
	}
	q := "SELECT " + strings.Join(c.Key, ", ") + ", " + ctxCol + ", " + c.Value + " FROM " + c.Table + c.where(notCurrent, after) +
		" ORDER BY " + strings.Join(c.Key, ", ") + " LIMIT " + fmt.Sprint(batch)
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return 0, cursor, RotateReport{}, err
	}
	type row struct {
		key            []any
		context, value string
	}
	var batchRows []row
	for rows.Next() {
		key := make([]any, len(c.Key))
		dst := make([]any, 0, len(key)+2)
		for i := range key {
			dst = append(dst, &key[i])
		}
		var r row
		dst = append(dst, &r.context, &r.value)
		if err := rows.Scan(dst...); err != nil {
			rows.Close()
			return 0, cursor, RotateReport{}, err
		}
		r.key = key
		batchRows = append(batchRows, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, cursor, RotateReport{}, err
	}
	var rep RotateReport
	for _, r := range batchRows {
		cursor = r.key
		resealed, _, err := sealer.Reseal(r.value, c.ContextPrefix+r.context)
		if errors.Is(err, fieldcrypt.ErrOpen) {
			rep.Failed++
			rep.Failures = append(rep.Failures, Failure{Column: c.Name, Row: joinKey(r.key), KeyID: fieldcrypt.SealedWith(r.value)})
			continue
		}
		if err != nil {
			return 0, cursor, rep, err
		}
		changed, err := c.update(ctx, tx, r.key, r.value, resealed, cur)
		if err != nil {
			return 0, cursor, rep, err
		}
		if changed {
			rep.Resealed++
		} else {
			rep.Changed++
		}
	}
	return len(batchRows), cursor, rep, nil
}

// update writes a re-sealed value if the row still holds the old one.
func (c Column) update(ctx context.Context, tx *sql.Tx, key []any, old, resealed, keyID string) (bool, error) {
	args := []any{resealed}
	set := c.Value + " = $1"
	if c.KeyID != "" {
		args = append(args, keyID)
		set += ", " + c.KeyID + " = $2"
	}
	conds := make([]string, 0, len(key)+1)
	for i, k := range c.Key {
		args = append(args, key[i])
		conds = append(conds, fmt.Sprintf("%s = $%d", k, len(args)))
	}
	args = append(args, old)
	conds = append(conds, fmt.Sprintf("%s = $%d", c.Value, len(args)))
	res, err := tx.ExecContext(ctx, "UPDATE "+c.Table+" SET "+set+" WHERE "+strings.Join(conds, " AND "), args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func joinKey(key []any) string {
	parts := make([]string, len(key))
	for i, v := range key {
		if b, ok := v.([]byte); ok {
			v = string(b)
		}
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, "/")
}
