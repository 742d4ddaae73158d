// Package gate is the one door every outbound message passes (DESIGN "The
// line it never crosses", privacy requirements P-17 to P-22 and P-38).
//
// Decide and DecideBatch answer a Request with a Decision. The gate is
// default-deny: a missing input, an unknown channel, a database error — any
// doubt — is a refusal with a machine-readable Reason and an English
// sentence. It checks, in this order: the request itself; suppression (an
// erased or suppressed person); consent for the purpose and channel and
// the message type it declares (marketing only: a service message rests on
// the contract); the content
// (a service message with promotional signals is refused, see promo.go; a
// marketing SMS needs an opt-out instruction and an e-mail the RFC 8058
// headers and an AD label); quiet hours in the person's zone (marketing
// only; the decision says when it may be sent instead); and frequency caps
// counted across all campaigns, senders and members: the lowest of the
// merchant's cap, the platform's (WeCom: days-in-month per month, 7 per week
// or 1 per day as the corp has set it; SMS: the carriers' 3 marketing
// messages a day) and the frequency the person agreed to.
//
// An allowed decision carries a Permit. A Permit cannot be made outside this
// package: its only field is unexported, and Consume refuses the zero value
// and a token that is not the HMAC of the permit's id and contents under
// the gate's key (a forged or changed permit). Every
// channel adapter's Send takes a Permit (a test in this package fails when
// an exported Send-like function under internal/channel or internal/campaign
// does not), and calls Consume in the transaction that records the send:
// Consume marks the permit used exactly once, re-checks consent (a
// withdrawal after the decision wins, P-13) and caps, and counts the send.
//
// The gate decides from an in-memory copy of the consent state, the recent
// sends and the policies, kept current by tailing the database (cache.go);
// Consume's re-check in the database is what a send rests on, so a stale
// copy never lets a message through. Every decision is written before the
// caller sees it, one gate_batches row per DecideBatch call or per group of
// concurrent Decide calls (record.go; gate_decisions is a view of them), and
// counted (stats.go, with a Prometheus collector); Explain and PermitsFor
// answer "why did I get this?" with the permit, the decision and the consent
// event behind it.
package gate
