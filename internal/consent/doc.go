// Package consent is the consent ledger: what each person agreed to, for
// which purpose, on which channel, on what evidence and after seeing which
// notice (privacy requirements P-10 to P-15, P-20 and P-22).
//
// Consent is a list of events, never a flag. Record appends one Event (one
// person, one purpose, one channel: bundling is impossible by type) after
// checking its evidence, source and notice; State folds a person's events
// into their current Status. Each person's events form a hash chain that
// VerifyChain re-computes, and the database refuses UPDATE and DELETE on
// them (triggers in migration 00007) except through Erase, which removes a
// person's events and leaves a keyed hash in consent_suppressions so the
// person is never contacted again on the strength of an old list.
//
// Opt-outs arrive on every channel: ParseSMSOptOut recognises SMS replies
// (T, TD, R, N, 退订, 拒收, 取消, STOP, UNSUBSCRIBE, in any width and case,
// with stray spaces and punctuation), UnsubscribeToken and
// ParseUnsubscribeToken carry the person of an e-mail's one-click
// unsubscribe link, and OptOut turns any of them — or a WeCom customer
// deleting the member, or a console action — into events that stop every
// commercial purpose on that channel at once. A repeated opt-out records
// nothing new.
//
// Withdrawal takes effect the moment its event is committed: nothing is
// cached here, so a sender that asks State at dispatch time (the gate) sees
// it for messages already queued (P-13).
//
// Writes take a store.Querier so that they commit with whatever caused them
// (an inbound SMS marked applied, an import batch). Ledger.Record and
// Ledger.OptOut (the ledger's suppression key and indexer are needed), Suppress
// and Erase also keep consent_state — the fold of the events, one row per
// person, purpose and channel — current in that transaction (state.go).
package consent
