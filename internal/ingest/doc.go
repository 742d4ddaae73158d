// Package ingest takes in verified inbound events (WeCom callbacks first):
// it stores each with its dedupe key and answers only once that transaction
// committed, so an event is durable before it is answered and a platform
// retry is recognised and dropped. The events table is the queue of work: a
// drain loop on each node (one node at a time, by lease) applies pending
// events in order, wakes when its node stores events and sweeps every
// SweepEvery besides, so nothing stored before a crash is forgotten. A
// failure while applying (an unreachable API, a panic) never loses an
// event: it is recorded, and a River job enqueued in the same transaction
// retries it with backoff.
//
// Applying is two steps. An Applier first prepares, outside any
// transaction, whatever it needs from the platform's API; the Write it
// returns then runs in one transaction with marking the event applied, so
// an event's effects land exactly once.
package ingest
