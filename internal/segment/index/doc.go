// Package index answers segment expressions (internal/segment) from roaring
// bitmaps held in memory, in milliseconds at millions of customers.
//
// The index is a cache of the database, never a source of truth. Open reads
// every customer and builds:
//
//   - one bitmap per corp tag (by tag id; a name maps to its ids), per tag
//     group (the union of its tags), per member and per channel (the
//     follow's state), over active follows only;
//   - one bitmap per reachable channel, from consent_state as CONTRACTS.md
//     defines it (grants with an end are read again when it passes);
//   - range-encoded indexes (a value array by customer id, and one bitmap
//     per quantile bound of the customers below it; see bsi.go) of the
//     order count, the amounts spent, the added day (earliest active follow)
//     and the last order's day, days counted in the instance's time zone;
//   - the facts of migration 00017 (facts_orders.go): bit-sliced indexes of
//     aov, refunds, refunded, rfm, rfm_r/f/m and the first order's day, and
//     one bitmap per SKU code and per category bought (customer_skus);
//   - the universe of every customer, for "not".
//
// Customer ids are the bitmaps' members; an id beyond 32 bits stops the
// build with an error.
//
// Run keeps the index current by reading segment_changes (migrations 00012
// and 00019), a sequence the database's triggers fill on every write that can move a
// customer in or out of a segment, and reading those customers again. Every
// node of a cluster reads the same sequence and so answers the same; a
// change is visible within PollInterval. On PostgreSQL sequence numbers
// become visible out of order; tail.go explains how none is missed. Rows
// older than Retention are pruned; an index that had not read them builds
// again.
//
// Queries (Count, Page, Eval, Snapshot) hold a read lock for the whole
// evaluation, and a batch of changes is applied under the write lock, so a
// query sees a batch entirely or not at all. The Index also implements
// segment.Catalog (Has, Names) for Check and its suggestions.
package index
