// Package audit is Kith's audit log (privacy requirements P-45 and P-46):
// who did what to which personal data, when, why and with what outcome, in
// entries that are only ever appended and chained by SHA-256 hashes, so that
// a changed, removed or inserted entry is found by Verify, and a log that
// was cut short or rewritten as a whole is found by checking it against a
// Checkpoint exported earlier.
//
// # Writing
//
// Append writes an entry in the caller's transaction, so an entry and the
// change it records commit together (or neither does); Record writes one in
// a transaction of its own. Appends are serialized — by SQLite's single
// writer, and on PostgreSQL by a transaction-scoped advisory lock — so the
// chain stays one line however many goroutines and nodes append at once.
// The database refuses UPDATE, DELETE (and on PostgreSQL TRUNCATE) of
// audit_log with "audit_log is append-only", and an INSERT that does not
// continue the chain. Whoever owns the database can drop those triggers;
// that is what Verify and checkpoints are for.
//
// # The hash of an entry
//
// An entry's hash is the lowercase hexadecimal SHA-256 of its canonical
// encoding: thirteen fields, each written as its length in bytes (an
// unsigned 64-bit big-endian integer) followed by its bytes, in this order:
//
//  1. the version tag, the 13 ASCII bytes "kith.audit.v1"
//  2. seq, in decimal ASCII without sign or leading zeros ("1", "2", …)
//  3. at, in UTC as YYYY-MM-DDTHH:MM:SS.ffffffZ with exactly six fraction
//     digits ("2025-06-30T02:00:00.000000Z")
//  4. actor_kind ("user", "token", "job", "system" or "anonymous")
//  5. actor
//  6. action
//  7. object_type
//  8. object_id
//  9. person
//  10. purpose
//  11. outcome ("ok", "denied" or "failed")
//  12. detail, the stored JSON text byte for byte ("" when there is none)
//  13. prev_hash, the hash of the entry before as 64 lowercase hex digits;
//     for seq 1 the genesis hash, 64 ASCII zeros
//
// Text fields are UTF-8 exactly as stored. Because every field carries its
// length, no two different entries encode to the same bytes. In Python:
//
//	def h(e):
//	    fs = ["kith.audit.v1", str(e["seq"]), e["at"], e["actor_kind"], e["actor"],
//	          e["action"], e["object_type"], e["object_id"], e["person"],
//	          e["purpose"], e["outcome"], e["detail"], e["prev_hash"]]
//	    b = b"".join(len(x).to_bytes(8, "big") + x for x in (f.encode() for f in fs))
//	    return hashlib.sha256(b).hexdigest()
//
// where e is one line of `kith audit export --format jsonl`, which writes
// every field in exactly this form.
//
// # Verifying
//
// Verify walks the log in seq order and reports the first broken link: an
// entry whose content no longer matches its hash (changed), a gap in seq
// (removed), an entry the next one links past (inserted). A hash chain
// cannot tell a log cut short from one that simply ended there, nor a log
// rewritten from the start with fresh hashes from the original: a
// Checkpoint (the seq and hash of the last entry, exported and kept where
// the database's owner cannot change it) can. VerifyCheckpoint reports a
// log that ends before the checkpoint (truncated) or holds another entry at
// its seq (rewritten).
//
// # What to log
//
// Person is a pseudonymous id of the data subject (a customer id), never a
// name, phone number or e-mail address: erasing the mapping from id to
// person then leaves the log intact but unlinkable. Detail is a short JSON
// object (at most 2 KiB) with whatever else explains the entry — an IP
// address, a row count, a reason — and never the personal data itself.
package audit
