package gate

import (
	"hash/maphash"

	"github.com/kith-scrm/kith/internal/consent"
)

// stateTable maps stateKeys to entries for a million persons and more
// without a map keyed by four strings: an index from a 64-bit hash of the
// key to a slot, the slot holding 32 bits of a second, independent hash
// that confirms the key (two keys agreeing on both are as likely as a
// random 96-bit collision; and a decision that went wrong on one would
// still be re-checked by Consume). Keys whose first hash collides with
// another's go to a plain map. A slot holds what every entry has (24
// bytes, no pointers); the fields few entries use — a validity, a
// suppression, a scope — are kept aside in a map by slot number (about 60
// bytes more for each entry that has one: were most grants given with a
// scope or a validity, a state would take more than the 64 bytes it took
// with them inline). The index and slots hold no pointers, so the garbage
// collector does not scan them, and a lookup reads a small index and one
// slot.
type stateTable struct {
	seed1, seed2 maphash.Seed
	index        openIndex
	slots        chunked[slot]
	rare         map[int32]rareFields // by slot number, for slots with hasRare
	free         []int32
	overflow     map[stateKey]entry
	// hash, if set, replaces hashes (tests make collisions with it).
	hash func(stateKey) (uint64, uint64)
}

// slot is 24 bytes: the first hash, the common part of the entry and 32
// bits of the second hash (with the first, 96 bits tell keys apart). A
// slot is live while the index points at it (freed slots are zero and
// listed in free).
type slot struct {
	h1      uint64
	eventID int64
	h2      uint32
	action  action
	flags   slotFlags
}

type slotFlags uint8

const (
	slotCustomer   slotFlags = 1 << iota // entry.customer
	slotSuppressed                       // entry.suppressed
	slotHasRare                          // rare holds the slot's rareFields
)

// rareFields are the parts of an entry most entries leave zero.
type rareFields struct {
	receivedAt   int64 // kept only for a suppressed entry (the one use)
	validUntil   int64
	suppressedAt int64
	scope        *consent.Scope
}

// split returns the slot's part of e (hashes unset) and the rest, and
// whether the rest is needed.
func split(e entry) (slot, rareFields, bool) {
	s := slot{eventID: e.eventID, action: e.action}
	if e.customer {
		s.flags |= slotCustomer
	}
	r := rareFields{validUntil: e.validUntil, suppressedAt: e.suppressedAt, scope: e.scope}
	if e.suppressed {
		s.flags |= slotSuppressed
		r.receivedAt = e.receivedAt
	}
	if r != (rareFields{}) {
		s.flags |= slotHasRare
		return s, r, true
	}
	return s, r, false
}

// entryAt joins slot i and its rare fields back into an entry (receivedAt
// is zero for an entry not suppressed: nothing reads it then).
func (t *stateTable) entryAt(i int32) entry {
	s := t.slots.at(i)
	e := entry{eventID: s.eventID, action: s.action, customer: s.flags&slotCustomer != 0, suppressed: s.flags&slotSuppressed != 0}
	if s.flags&slotHasRare != 0 {
		r := t.rare[i]
		e.receivedAt, e.validUntil, e.suppressedAt, e.scope = r.receivedAt, r.validUntil, r.suppressedAt, r.scope
	}
	return e
}

func newStateTable() *stateTable {
	return &stateTable{seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed(), rare: map[int32]rareFields{}, overflow: map[stateKey]entry{}}
}

// hashes returns the two hashes of k.
func (t *stateTable) hashes(k stateKey) (uint64, uint64) {
	if t.hash != nil {
		return t.hash(k)
	}
	return hashTwice(t.seed1, t.seed2, k)
}

// h1At returns the first hash of slot i (the index's view of the slots).
func (t *stateTable) h1At(i int32) uint64 { return t.slots.at(i).h1 }

// hashTwice returns k's hashes under two seeds: the tables index a key by
// the first and confirm it by (32 bits of) the second.
func hashTwice(seed1, seed2 maphash.Seed, k stateKey) (uint64, uint64) {
	return hashParts(seed1, seed2, string(k.person.Kind), k.person.Key, string(k.purpose), string(k.channel))
}

// sendHashTwice is hashTwice for a sendKey (no purpose).
func sendHashTwice(seed1, seed2 maphash.Seed, k sendKey) (uint64, uint64) {
	return hashParts(seed1, seed2, string(k.person.Kind), k.person.Key, "", string(k.channel))
}

// hashParts hashes a key's four parts, each followed by a zero byte, under
// each seed. The parts are passed as strings: a hasher reached through a
// generic function or a method value escaped to the heap, an allocation
// per lookup (TestStateTable counts them).
func hashParts(seed1, seed2 maphash.Seed, kind, key, purpose, channel string) (uint64, uint64) {
	var h maphash.Hash
	var sums [2]uint64
	for i, seed := range [2]maphash.Seed{seed1, seed2} {
		h.SetSeed(seed)
		h.WriteString(kind)
		h.WriteByte(0)
		h.WriteString(key)
		h.WriteByte(0)
		h.WriteString(purpose)
		h.WriteByte(0)
		h.WriteString(channel)
		sums[i] = h.Sum64()
	}
	return sums[0], sums[1]
}

// get returns k's entry.
func (t *stateTable) get(k stateKey) (entry, bool) {
	h1, h2 := t.hashes(k)
	if i, ok := t.index.find(h1, t); ok && t.slots.at(i).h2 == uint32(h2) {
		return t.entryAt(i), true
	}
	if len(t.overflow) > 0 {
		e, ok := t.overflow[k]
		return e, ok
	}
	return entry{}, false
}

// put sets k's entry.
func (t *stateTable) put(k stateKey, e entry) {
	h1, h2 := t.hashes(k)
	i, found := t.index.find(h1, t)
	if found && t.slots.at(i).h2 != uint32(h2) {
		t.overflow[k] = e
		return
	}
	s, r, rare := split(e)
	s.h1, s.h2 = h1, uint32(h2)
	if !found {
		// A key may have gone to the overflow while another held its
		// first hash; that one is gone (erased), so the key moves here.
		if len(t.overflow) > 0 {
			delete(t.overflow, k)
		}
		if n := len(t.free); n > 0 {
			i = t.free[n-1]
			t.free = t.free[:n-1]
		} else {
			i = t.slots.push(slot{})
		}
		t.index.insert(h1, i, t)
	}
	if rare {
		t.rare[i] = r
	} else if t.slots.at(i).flags&slotHasRare != 0 {
		delete(t.rare, i)
	}
	*t.slots.at(i) = s
}

// deleteEvents removes every entry resting on one of the events. Erasures
// are rare: the index is made again from the slots still live.
func (t *stateTable) deleteEvents(gone map[int64]bool) {
	freed := make(map[int32]bool, len(t.free))
	for _, i := range t.free {
		freed[i] = true
	}
	n := len(t.free)
	for i := range t.slots.n {
		if s := t.slots.at(i); !freed[i] && gone[s.eventID] {
			*s = slot{}
			delete(t.rare, i)
			t.free = append(t.free, i)
			freed[i] = true
		}
	}
	if len(t.free) > n {
		t.index.rebuild(int(t.slots.n)-len(t.free), func(place func(h uint64, i int32)) {
			for i := range t.slots.n {
				if !freed[i] {
					place(t.slots.at(i).h1, i)
				}
			}
		})
	}
	for k, e := range t.overflow {
		if gone[e.eventID] {
			delete(t.overflow, k)
		}
	}
}

// len returns the number of entries.
func (t *stateTable) len() int { return t.index.n + len(t.overflow) }

// sendTable holds the marketing sends (Unix µs) of each person and channel
// the cap counters need, laid out like stateTable: an index from a 64-bit
// hash of the key to a 20-byte slot holding 32 bits of a second,
// independent hash that confirms the key and the first send; a key with
// more sends keeps them all in a small map, and a key whose first hash
// collides with another's goes to a plain map. A million recipients' sends
// take about 28 MB (slots and index) instead of the 110 of a map from both
// hashes to a slice, and the collector scans none of it. Two keys agreeing
// on both hashes are as likely as a random 96-bit collision; it would only
// add sends to a count (a refusal, never a send allowed), and Consume
// re-checks the caps in the database anyway.
type sendTable struct {
	seed1, seed2 maphash.Seed
	index        openIndex
	slots        chunked[sendSlot]
	more         map[int32][]int64   // all the sends of slots with two or more
	overflow     map[sendKey][]int64 // keys whose first hash is another key's
	// hash, if set, replaces hashes (tests make collisions with it).
	hash func(sendKey) (uint64, uint64)
}

// sendSlot is a key's two hashes (64 and 32 bits) and its first send, in
// 32-bit words: 20 bytes, where the same fields as 64-bit words take 24.
type sendSlot struct {
	h1Lo, h1Hi, firstLo, firstHi, h2 uint32
}

func makeSendSlot(h1 uint64, h2 uint32, first int64) sendSlot {
	s := sendSlot{h1Lo: uint32(h1), h1Hi: uint32(h1 >> 32), h2: h2}
	s.setFirst(first)
	return s
}

func (s *sendSlot) h1() uint64       { return uint64(s.h1Hi)<<32 | uint64(s.h1Lo) }
func (s *sendSlot) first() int64     { return int64(uint64(s.firstHi)<<32 | uint64(s.firstLo)) }
func (s *sendSlot) setFirst(v int64) { s.firstLo, s.firstHi = uint32(v), uint32(uint64(v)>>32) }

func newSendTable() *sendTable {
	return &sendTable{seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed(), more: map[int32][]int64{}, overflow: map[sendKey][]int64{}}
}

func (t *sendTable) hashes(k sendKey) (uint64, uint64) {
	if t.hash != nil {
		return t.hash(k)
	}
	return sendHashTwice(t.seed1, t.seed2, k)
}

// h1At returns the first hash of slot i (the index's view of the slots).
func (t *sendTable) h1At(i int32) uint64 { return t.slots.at(i).h1() }

// get returns k's sends, not to be changed; a single send is returned in
// one (the caller's buffer).
func (t *sendTable) get(k sendKey, one *[1]int64) []int64 {
	h1, h2 := t.hashes(k)
	i, ok := t.index.find(h1, t)
	if !ok {
		return nil
	}
	if t.slots.at(i).h2 != uint32(h2) {
		return t.overflow[k]
	}
	if ts, ok := t.more[i]; ok {
		return ts
	}
	one[0] = t.slots.at(i).first()
	return one[:]
}

// add appends ts to k's sends, dropping those before horizon.
func (t *sendTable) add(k sendKey, horizon int64, ts ...int64) {
	if len(ts) == 0 {
		return
	}
	h1, h2 := t.hashes(k)
	i, ok := t.index.find(h1, t)
	if ok && t.slots.at(i).h2 != uint32(h2) {
		t.overflow[k] = appendKept(t.overflow[k], horizon, ts)
		return
	}
	if !ok {
		i = t.slots.push(makeSendSlot(h1, uint32(h2), ts[0]))
		t.index.insert(h1, i, t)
		if len(ts) > 1 {
			t.more[i] = append([]int64(nil), ts...)
		}
		return
	}
	old, many := t.more[i]
	if !many {
		old = []int64{t.slots.at(i).first()}
	}
	all := appendKept(old, horizon, ts)
	t.slots.at(i).setFirst(all[0])
	if len(all) > 1 {
		t.more[i] = all
	} else {
		delete(t.more, i)
	}
}

// appendKept returns the sends of old at or after horizon, then ts.
func appendKept(old []int64, horizon int64, ts []int64) []int64 {
	kept := make([]int64, 0, len(old)+len(ts))
	for _, at := range old {
		if at >= horizon {
			kept = append(kept, at)
		}
	}
	return append(kept, ts...)
}

// len returns how many keys have sends.
func (t *sendTable) len() int { return t.index.n + len(t.overflow) }

// chunked is a table's slots, kept in chunks of chunkSize: a table that
// grows to a million slots never copies them, nor leaves an array of half
// its size behind for the collector to free (with append, growing from
// 0.8 to 1.6 million 24-byte slots held 58 MB at once).
type chunked[T any] struct {
	chunks [][]T
	n      int32 // slots in use
}

const chunkBits = 13
const chunkSize = 1 << chunkBits

// at returns slot i (i < n).
func (c *chunked[T]) at(i int32) *T { return &c.chunks[i>>chunkBits][i&(chunkSize-1)] }

// push appends v and returns its slot number.
func (c *chunked[T]) push(v T) int32 {
	i := c.n
	if int(i>>chunkBits) == len(c.chunks) {
		c.chunks = append(c.chunks, make([]T, chunkSize))
	}
	c.n++
	*c.at(i) = v
	return i
}

// openIndex finds a slot by its first hash: open addressing with linear
// probing over a power-of-two array of slot numbers, at most three
// quarters full. It takes 4 bytes per position, 5–11 per key, where a Go
// map from uint64 to int32 took about 35 (measured with
// runtime.MemStats, TestOpenIndexIsSmall); the hashes stay in the slots,
// and the index asks the table for a slot's first hash. Keys are never
// removed one by one: a table that frees slots builds its index again.
type openIndex struct {
	pos []int32 // slot number + 1; 0 is a free position
	n   int     // slots indexed
}

// find returns the slot whose first hash is h.
func (x *openIndex) find(h uint64, at firstHashes) (int32, bool) {
	if len(x.pos) == 0 {
		return 0, false
	}
	mask := uint64(len(x.pos) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		p := x.pos[i]
		if p == 0 {
			return 0, false
		}
		if at.h1At(p-1) == h {
			return p - 1, true
		}
	}
}

// insert indexes slot s under h, which find did not find.
func (x *openIndex) insert(h uint64, s int32, at firstHashes) {
	if (x.n+1)*4 > len(x.pos)*3 {
		old := x.pos
		x.pos = make([]int32, max(1024, 2*len(old)))
		for _, p := range old {
			if p != 0 {
				x.place(at.h1At(p-1), p-1)
			}
		}
	}
	x.place(h, s)
	x.n++
}

// firstHashes gives the first hash of a slot (a table, passed as a pointer
// in an interface: no allocation, unlike a method value).
type firstHashes interface{ h1At(slot int32) uint64 }

// place puts s in the first free position from h's.
func (x *openIndex) place(h uint64, s int32) {
	mask := uint64(len(x.pos) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		if x.pos[i] == 0 {
			x.pos[i] = s + 1
			return
		}
	}
}

// rebuild makes the index anew for n slots, which each calls place for.
func (x *openIndex) rebuild(n int, each func(place func(h uint64, s int32))) {
	size := 1024
	for n*4 > size*3 {
		size *= 2
	}
	x.pos, x.n = make([]int32, size), n
	each(x.place)
}
