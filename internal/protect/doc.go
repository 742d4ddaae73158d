// Package protect keeps identifying fields (phone numbers first) encrypted at
// rest and findable without plaintext (privacy requirements P-42, P-43): a
// value is sealed with AES-GCM under the instance's field key, bound to the
// field it belongs to, and indexed with a keyed HMAC of its normalised form
// under a separate blind-index key, so duplicates and look-ups match on the
// index alone. The console shows masked forms; revealing is the web layer's
// job, audited there.
package protect
