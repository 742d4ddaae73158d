// Package protect keeps identifying fields — phone numbers, e-mail
// addresses, postal addresses — encrypted at rest and findable without
// plaintext (privacy requirements P-42, P-43): a value is normalised per
// field, sealed with AES-GCM under the instance's current field key, bound
// to the field it belongs to, and indexed with a keyed HMAC of its
// normalised form under a separate blind-index key, so duplicates and
// look-ups match on the index alone. Each field has its own mask (what the
// console and the API show by default); revealing is the web layer's job,
// audited there.
//
// protected_values holds any owner's values (PutValues, Values,
// FindOwners, DeleteOwner). Every place sealed values live is a Column;
// Rotate re-seals them all under the current field key in resumable
// batches, CheckFieldKeys stops a start whose secrets lack a key values may
// still use, and RetireKey retires a key no value uses any more.
package protect
