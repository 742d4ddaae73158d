package store

import (
	"context"
	"database/sql"
)

// Querier runs statements: a *sql.Tx, a *sql.DB or a *CachedTx.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// CachedTx is a transaction that prepares each distinct statement once. A
// loop that runs the same few statements for hundreds of rows spends most of
// its time parsing SQL otherwise (SQLite through database/sql keeps no
// statement cache).
type CachedTx struct {
	Tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

// NewCachedTx wraps tx; call Close before committing or rolling back.
func NewCachedTx(tx *sql.Tx) *CachedTx { return &CachedTx{Tx: tx, stmts: map[string]*sql.Stmt{}} }

func (c *CachedTx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := c.stmts[query]; ok {
		return s, nil
	}
	s, err := c.Tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.stmts[query] = s
	return s, nil
}

// ExecContext runs a statement, prepared on first use.
func (c *CachedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	s, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, args...)
}

// QueryContext runs a query, prepared on first use.
func (c *CachedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

// QueryRowContext runs a one-row query, prepared on first use. A failed
// prepare shows as the row's error, through an unprepared query.
func (c *CachedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	s, err := c.stmt(ctx, query)
	if err != nil {
		return c.Tx.QueryRowContext(ctx, query, args...)
	}
	return s.QueryRowContext(ctx, args...)
}

// Close releases the prepared statements.
func (c *CachedTx) Close() {
	for _, s := range c.stmts {
		s.Close()
	}
	clear(c.stmts)
}
