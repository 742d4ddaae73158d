// Package channel holds one adapter per outbound channel (wecom, kf, sms,
// email) in its sub-packages. Every adapter's exported Send-like function
// takes a gate.Permit and calls gate.Consume in the transaction that records
// the send: a send without a permit does not compile, and a permit is used
// once. internal/gate's TestOnlyWayToSend parses this tree and
// internal/campaign and fails when an exported Send, Deliver, Dispatch,
// Publish or Post function or method lacks a gate.Permit parameter.
//
// This package holds what the adapters share: Claimer, which consumes the
// permits of a batch (each in a savepoint of one transaction, together
// with the caller's own record of the send) before anything goes on the
// wire; Result and Status, the outcome of one message in words every
// adapter uses (sent, refused, retryable, failed, unknown); and Limiter, a
// sliding-window rate limit for a provider's or a campaign's send rate.
//
// The recipient of a message is always the person its permit names: an
// adapter never takes an address of its own, so a permit for one person
// cannot carry a message to another.
package channel
