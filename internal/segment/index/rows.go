package index

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/kith-scrm/kith/internal/store"
)

// readRows runs query (no arguments) on a connection of the read pool and
// calls fn with each row's values as the driver gives them (int64,
// float64, string, []byte, bool, time.Time or nil; fn must not keep
// them). It skips database/sql's per-row work — a lock and a conversion
// per column into Scan's destinations — which a build pays tens of
// millions of times.
func readRows(ctx context.Context, db *store.DB, query string, fn func(row []driver.Value) error) error {
	return readRowsMapped(ctx, db, query, false, fn)
}

// buildMmap is the memory map a build's reads ask SQLite for (PRAGMA
// mmap_size; SQLite caps it at 2 GiB, its compiled-in maximum): pages
// within it are read in place rather than copied by a pread each into the
// connection's 2 MB page cache, which saves a quarter of a build's CPU
// time. The connection goes back to the pool unmapped.
const buildMmap = 1 << 31

// readRowsMapped is readRows; when mapped (a build's read on SQLite), the
// connection maps the database file into memory for this query.
func readRowsMapped(ctx context.Context, db *store.DB, query string, mapped bool, fn func(row []driver.Value) error) error {
	return pullRows(ctx, db, query, mapped, func(next func() ([]driver.Value, error)) error {
		for {
			row, err := next()
			if err != nil || row == nil {
				return err
			}
			if err := fn(row); err != nil {
				return err
			}
		}
	})
}

// pullRows runs query like readRowsMapped and hands body a function that
// returns the next row's values (nil after the last), valid until the next
// call: so that one goroutine can walk two queries side by side.
func pullRows(ctx context.Context, db *store.DB, query string, mapped bool, body func(next func() ([]driver.Value, error)) error) error {
	conn, err := db.R.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	mapped = mapped && db.Dialect == store.SQLite
	return conn.Raw(func(dc any) (err error) {
		q, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("the %T driver cannot run a query directly", dc)
		}
		if mapped {
			if err := pragma(ctx, q, "PRAGMA mmap_size = "+strconv.Itoa(buildMmap)); err != nil {
				return err
			}
			defer func() {
				if e := pragma(context.WithoutCancel(ctx), q, "PRAGMA mmap_size = 0"); e != nil && err == nil {
					err = e
				}
			}()
		}
		rows, err := q.QueryContext(ctx, query, nil)
		if err != nil {
			return err
		}
		defer rows.Close()
		dest := make([]driver.Value, len(rows.Columns()))
		return body(func() ([]driver.Value, error) {
			if err := rows.Next(dest); err != nil {
				if errors.Is(err, io.EOF) {
					return nil, nil
				}
				return nil, err
			}
			return dest, nil
		})
	})
}

// pragma runs a PRAGMA statement and reads its answer.
func pragma(ctx context.Context, q driver.QueryerContext, stmt string) error {
	rows, err := q.QueryContext(ctx, stmt, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", stmt, err)
	}
	dest := make([]driver.Value, len(rows.Columns()))
	for rows.Next(dest) == nil {
	}
	return rows.Close()
}

// asInt64 reads an integer column's value.
func asInt64(v driver.Value) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case float64:
		if x == float64(int64(x)) {
			return int64(x), nil
		}
	case string:
		return strconv.ParseInt(x, 10, 64)
	case []byte:
		return strconv.ParseInt(string(x), 10, 64)
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	}
	return 0, fmt.Errorf("%T %v is not an integer", v, v)
}

// asString reads a text column's value.
func asString(v driver.Value) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	}
	return "", fmt.Errorf("%T %v is not text", v, v)
}

// epoch is the SQL of a timestamp column read for its day: in SQLite the
// seconds since 1970 (SQLite parses its text faster than the driver does),
// in PostgreSQL the timestamp itself (which arrives in binary).
func epoch(d store.Dialect, col string) string {
	if d == store.SQLite {
		return "unixepoch(" + col + ")"
	}
	return col
}

// asDay reads an epoch column (unix seconds or a time) as a day of the
// time zone; ok is false for NULL.
func (d *dayer) asDay(v driver.Value) (day int64, ok bool, err error) {
	switch x := v.(type) {
	case nil:
		return 0, false, nil
	case time.Time:
		return d.day(x), true, nil
	}
	u, err := asInt64(v)
	if err != nil {
		return 0, false, err
	}
	return d.dayUnix(u), true, nil
}

// mapBuild says whether a build's reads map the database file (buildMmap).
var mapBuild = true

// read is readRows for the loader: a build's reads (ids nil) map the
// database file.
func (l *loader) read(ctx context.Context, ids []uint32, query string, fn func(row []driver.Value) error) error {
	return readRowsMapped(ctx, l.db, query, ids == nil && mapBuild, fn)
}
