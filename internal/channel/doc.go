// Package channel holds one adapter per outbound channel (wecom, kf, sms,
// email) in its sub-packages. Every adapter's exported Send-like function
// takes a gate.Permit and calls gate.Consume in the transaction that records
// the send: a send without a permit does not compile, and a permit is used
// once. internal/gate's TestOnlyWayToSend parses this tree and
// internal/campaign and fails when an exported Send, Deliver, Dispatch,
// Publish or Post function or method lacks a gate.Permit parameter.
package channel
