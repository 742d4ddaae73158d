// Package wecom is Kith's client of WeCom's (企业微信) server API: members,
// customers (external contacts) and enterprise customer tags, for one
// self-built app of one corp.
//
// It is a thin client of our own over net/http rather than an SDK. The
// maintained Go SDK (silenceper/wechat) takes no context, sends through
// http.DefaultClient with no timeout, skips signature checks on the
// customer-contact callbacks, does not refetch a token WeCom refused, and
// keys its token cache so that two apps of one corp can collide; the others
// are unmaintained or not installable (see the WeCom research notes, §1, §2
// and §13). The API itself is a few dozen JSON endpoints with one envelope
// ({errcode, errmsg}), so owning the client costs little and lets Kith
// decide timeouts, retries and rate limits.
//
// What every call does:
//
//   - It takes a context and each HTTP round trip has a timeout (10 s by
//     default).
//   - Access tokens are cached per corp and app, fetched once however many
//     callers need one (single flight), replaced five minutes before they
//     expire, and dropped and fetched again once when WeCom refuses them
//     (40014, 42001). A refused corp ID or secret is remembered for a minute,
//     because WeCom blocks an IP that keeps trying a wrong secret.
//   - Answers -1 (busy), 45009 (frequency limit) and 45033 (concurrency
//     limit) are retried with exponential backoff and jitter, a bounded
//     number of times and never past the context.
//   - A token bucket per API path keeps calls under WeCom's limit of 10 000
//     a minute per API and corp.
//   - A non-zero errcode becomes an *Error with the code; code branches on
//     the code, never on errmsg. Meaning explains a code to an operator.
//   - Non-200 statuses, answers that are not JSON and answers over 8 MiB are
//     errors that say so.
//   - The access token travels in the query string, as WeCom requires; the
//     secret and the token never appear in logs or error texts.
//
// Arguments that WeCom would refuse (too many userids, a remark over 20
// characters) are refused before any call, with a kith.EINVALID error that
// says what to change.
//
// The base URL is a setting, so the local sandbox (package wecomtest) and
// the real API are one setting apart. Callback verification and decryption
// live in package callback.
package wecom
