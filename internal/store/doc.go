// Package store owns Kith's database connections: opening SQLite or
// PostgreSQL, the dialect differences between them, and the embedded
// migrations of both Kith's tables and River's.
//
// Queries are written once, in SQL that both dialects accept: `$N`
// placeholders (modernc.org/sqlite takes them), RETURNING, and times passed
// from Go in UTC rather than computed by the database. The schemas differ per
// dialect (identity columns, timestamptz), so each has its own migration
// folder with the same version numbers.
//
// On SQLite, writes go through one connection (W) opened with immediate
// transactions, and reads through a separate pool (R): concurrent
// read-then-write transactions on several connections fail with "database is
// locked". On PostgreSQL, W and R are the same pool.
package store
