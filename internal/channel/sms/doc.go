// Package sms sends text messages through Tencent Cloud SMS (API
// 2021-01-11, TC3-HMAC-SHA256 signing) and Aliyun SMS (dysmsapi 2017-05-25,
// RPC signature v1), and reads what the providers push back: delivery
// reports and the replies people send (upstream, MO).
//
// A send takes one gate.Permit per recipient: Tencent.Send and Aliyun.Send
// consume every permit through a channel.Claimer (in the transaction that
// records the send) before the request leaves, and the numbers sent to are
// the ones the permits name. The rendered text — 【signature】 + template
// with its values — is what the gate checked (Message.Content): a
// marketing template must carry an opt-out instruction (拒收请回复R,
// 回T退订), or NewTemplate refuses it.
//
// Errors are classified per number: retryable (flow control, provider
// hiccups, the marketing send window), failed (a bad number, a blocked
// number, a template, signature, balance or permission problem), or
// unknown when the request was written and the answer lost — those are
// never resent here (Aliyun says plainly that SendSms is not idempotent).
//
// Replies reach consent through TakeReply: an opt-out keyword (T, TD, R,
// 退订, full-width forms…, as consent.ParseSMSOptOut reads them) records an
// opt-out for the number on SMS with the reply as evidence. The callback
// parsers are fuzzed; they accept the field drift the providers' pages
// document (Aliyun's sequence_id as number or string, sign_name optional).
package sms
