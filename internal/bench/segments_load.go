package bench

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/kith-scrm/kith/internal/store"
)

// Loading the generated customers fast: on SQLite the tables' own indexes
// and triggers are dropped during the load (and made again after it, from
// the statements SQLite kept), foreign keys are off, and rows go in as
// multi-row INSERTs in large transactions; on PostgreSQL by COPY.

// segTables are the tables loaded, with their columns.
var segTables = []struct {
	name string
	cols []string
}{
	{"customers", []string{"id", "external_userid", "order_count", "spent_30d_fen", "spent_90d_fen", "spent_365d_fen", "spent_total_fen", "last_order_at", "created_at", "updated_at"}},
	{"follows", []string{"customer_id", "member_userid", "state", "status", "added_at", "updated_at"}},
	{"follow_tags", []string{"customer_id", "member_userid", "tag_id"}},
	{"customer_phones", []string{"customer_id", "member_userid", "phone_sealed", "phone_index", "key_id"}},
	{"consent_state", []string{"person_kind", "person_key", "purpose", "channel", "action", "valid_until", "event_id", "suppressed", "person_index", "updated_at", "occurred_at", "received_at", "source", "seq"}},
}

// rowsOf returns customer c's rows of table t.
func (c *segCustomer) rowsOf(t int) [][]any {
	var out [][]any
	switch t {
	case 0:
		var last any
		if c.last != nil {
			last = *c.last
		}
		out = append(out, []any{c.id, c.ext, c.orders, c.spent[0], c.spent[1], c.spent[2], c.spent[3], last, segNow, segNow})
	case 1:
		for _, f := range c.follows {
			out = append(out, []any{c.id, f.member, f.state, f.status, f.added, segNow})
		}
	case 2:
		for _, f := range c.follows {
			for _, tag := range f.tags {
				out = append(out, []any{c.id, f.member, tag})
			}
		}
	case 3:
		for _, f := range c.follows {
			if f.phone != "" {
				out = append(out, []any{c.id, f.member, "sealed", f.phone, "bench"})
			}
		}
	case 4:
		for i, cs := range c.consents {
			var until any
			if cs.until != nil {
				until = *cs.until
			}
			out = append(out, []any{cs.kind, cs.key, "marketing", cs.channel, cs.action, until, c.id*4 + int64(i), cs.suppressed, cs.index, segNow, segNow, segNow, "customer", 1})
		}
	}
	return out
}

// segCatalogRows writes the members, tag groups and tags.
func segCatalog(ctx context.Context, tx *sql.Tx) error {
	for i := range segMembers {
		if _, err := tx.ExecContext(ctx, `INSERT INTO members (userid, name, updated_at) VALUES ($1, $2, $3)`, segMember(i), fmt.Sprintf("成员%d", i), segNow); err != nil {
			return err
		}
	}
	for g := range segGroups {
		if _, err := tx.ExecContext(ctx, `INSERT INTO tag_groups (group_id, name, created_at, updated_at) VALUES ($1, $2, $3, $3)`, segGroupID(g), segGroupName(g), segNow); err != nil {
			return err
		}
	}
	for i := range len(segCommonTags) + segTailTags {
		if _, err := tx.ExecContext(ctx, `INSERT INTO tags (tag_id, group_id, name, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)`, segTagID(i), segGroupID(segTagGroup(i)), segTagName(i), segNow); err != nil {
			return err
		}
	}
	return nil
}

// loadSegmentsSQLite loads n customers into a migrated SQLite database.
func loadSegmentsSQLite(ctx context.Context, db *store.DB, n int, progress func(string)) error {
	if err := db.InTx(ctx, func(tx *sql.Tx) error { return segCatalog(ctx, tx) }); err != nil {
		return fmt.Errorf("bench: catalog: %w", err)
	}
	// Keep the schema's indexes and triggers of the loaded tables, drop
	// them, and make them again after the load (building an index once is
	// much faster than keeping it sorted row by row).
	names := make([]string, len(segTables))
	for i, t := range segTables {
		names[i] = "'" + t.name + "'"
	}
	rows, err := db.W.QueryContext(ctx, `SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND sql IS NOT NULL AND tbl_name IN (`+strings.Join(names, ",")+`)`)
	if err != nil {
		return err
	}
	var kept []string
	var drops []string
	for rows.Next() {
		var typ, name, ddl string
		if err := rows.Scan(&typ, &name, &ddl); err != nil {
			rows.Close()
			return err
		}
		kept = append(kept, ddl)
		drops = append(drops, "DROP "+strings.ToUpper(typ)+" "+name)
	}
	rows.Close()
	for _, q := range append(drops, "PRAGMA foreign_keys = OFF") {
		if _, err := db.W.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("bench: %s: %w", q, err)
		}
	}
	const perTx = 250_000
	for from := 1; from <= n; from += perTx {
		to := min(n, from+perTx-1)
		if err := db.InTx(ctx, func(tx *sql.Tx) error { return insertCustomers(ctx, tx, from, to) }); err != nil {
			return fmt.Errorf("bench: load customers %d–%d: %w", from, to, err)
		}
		if progress != nil && (to%1_000_000 == 0 || to == n) {
			progress(fmt.Sprintf("loaded %d of %d customers", to, n))
		}
	}
	if progress != nil {
		progress("indexing")
	}
	for _, q := range append(kept, "PRAGMA foreign_keys = ON", "ANALYZE") {
		if _, err := db.W.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("bench: %s: %w", q, err)
		}
	}
	return nil
}

// insertCustomers inserts customers from..to, many rows per statement.
func insertCustomers(ctx context.Context, tx *sql.Tx, from, to int) error {
	const perStmt = 200
	type batch struct {
		args []any
		n    int
		full *sql.Stmt
	}
	batches := make([]batch, len(segTables))
	stmt := func(t, rowsN int) string {
		row := "(" + strings.TrimSuffix(strings.Repeat("?,", len(segTables[t].cols)), ",") + ")"
		return "INSERT INTO " + segTables[t].name + " (" + strings.Join(segTables[t].cols, ", ") + ") VALUES " +
			strings.TrimSuffix(strings.Repeat(row+",", rowsN), ",")
	}
	for t := range batches {
		s, err := tx.PrepareContext(ctx, stmt(t, perStmt))
		if err != nil {
			return err
		}
		defer s.Close()
		batches[t].full = s
	}
	flush := func(t int) error {
		b := &batches[t]
		if b.n == 0 {
			return nil
		}
		var err error
		if b.n == perStmt {
			_, err = b.full.ExecContext(ctx, b.args...)
		} else {
			_, err = tx.ExecContext(ctx, stmt(t, b.n), b.args...)
		}
		b.args, b.n = b.args[:0], 0
		return err
	}
	for id := from; id <= to; id++ {
		c := genCustomer(int64(id))
		for t := range segTables {
			for _, r := range c.rowsOf(t) {
				batches[t].args = append(batches[t].args, r...)
				if batches[t].n++; batches[t].n == perStmt {
					if err := flush(t); err != nil {
						return err
					}
				}
			}
		}
	}
	for t := range batches {
		if err := flush(t); err != nil {
			return err
		}
	}
	return nil
}

// loadSegmentsPostgres loads the same n customers into a migrated
// PostgreSQL database with COPY, one table at a time, triggers off.
func loadSegmentsPostgres(ctx context.Context, db *store.DB, n int, progress func(string)) error {
	if err := db.InTx(ctx, func(tx *sql.Tx) error { return segCatalog(ctx, tx) }); err != nil {
		return fmt.Errorf("bench: catalog: %w", err)
	}
	conn, err := db.Pgx.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	for _, t := range segTables {
		if _, err := conn.Exec(ctx, "ALTER TABLE "+t.name+" DISABLE TRIGGER USER"); err != nil {
			return err
		}
	}
	for ti, t := range segTables {
		src := &segCopySource{table: ti, next: 1, last: n}
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{t.name}, t.cols, src); err != nil {
			return fmt.Errorf("bench: copy %s: %w", t.name, err)
		}
		if progress != nil {
			progress("PostgreSQL: copied " + t.name)
		}
	}
	for _, t := range segTables {
		if _, err := conn.Exec(ctx, "ALTER TABLE "+t.name+" ENABLE TRIGGER USER"); err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, "ANALYZE "+t.name); err != nil {
			return err
		}
	}
	// The identity must continue after the ids the load chose.
	_, err = conn.Exec(ctx, `SELECT setval(pg_get_serial_sequence('customers', 'id'), GREATEST((SELECT MAX(id) FROM customers), 1))`)
	return err
}

// segCopySource feeds one table's rows of customers next..last to COPY.
type segCopySource struct {
	table      int
	next, last int
	pending    [][]any
	row        []any
}

func (s *segCopySource) Next() bool {
	for len(s.pending) == 0 {
		if s.next > s.last {
			return false
		}
		c := genCustomer(int64(s.next))
		s.next++
		s.pending = c.rowsOf(s.table)
	}
	s.row, s.pending = s.pending[0], s.pending[1:]
	return true
}

func (s *segCopySource) Values() ([]any, error) { return s.row, nil }
func (s *segCopySource) Err() error             { return nil }
