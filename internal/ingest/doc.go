// Package ingest takes in verified inbound events (WeCom callbacks first):
// it stores each with its dedupe key in the same transaction as the job that
// applies it, so an event is durable before it is answered, a platform retry
// is recognised and dropped, and a failure while applying (an unreachable
// API, a panic) never loses it: River retries the job.
//
// Applying is two steps. An Applier first prepares, outside any
// transaction, whatever it needs from the platform's API; the Write it
// returns then runs in one transaction with marking the event applied and
// completing the job, so an event's effects land exactly once.
package ingest
