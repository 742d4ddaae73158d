package gate

import (
	"hash/maphash"
)

// stateTable maps stateKeys to entries for a million persons and more
// without a map keyed by four strings: an index from a 64-bit hash of the
// key to a slot, the slot holding a second, independent 64-bit hash that
// confirms the key (two keys agreeing on both are as likely as a random
// 128-bit collision; and a decision that went wrong on one would still be
// re-checked by Consume). Keys whose first hash collides with another's go
// to a plain map. The index and slots hold no pointers but the entries'
// scopes, so the garbage collector has little to scan, and a lookup reads
// a small index and one slot.
type stateTable struct {
	seed1, seed2 maphash.Seed
	index        openIndex
	slots        []slot
	free         []int32
	overflow     map[stateKey]entry
	// hash, if set, replaces hashes (tests make collisions with it).
	hash func(stateKey) (uint64, uint64)
}

// slot is 64 bytes: the two hashes and the entry. A slot is live while the
// index points at it (freed slots are zero and listed in free).
type slot struct {
	h1, h2 uint64
	e      entry
}

func newStateTable() *stateTable {
	return &stateTable{seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed(), overflow: map[stateKey]entry{}}
}

// hashes returns the two hashes of k.
func (t *stateTable) hashes(k stateKey) (uint64, uint64) {
	if t.hash != nil {
		return t.hash(k)
	}
	return hashTwice(t.seed1, t.seed2, k)
}

// h1At returns the first hash of slot i (the index's view of the slots).
func (t *stateTable) h1At(i int32) uint64 { return t.slots[i].h1 }

func (k stateKey) writeHash(h *maphash.Hash) {
	h.WriteString(string(k.person.Kind))
	h.WriteByte(0)
	h.WriteString(k.person.Key)
	h.WriteByte(0)
	h.WriteString(string(k.purpose))
	h.WriteByte(0)
	h.WriteString(string(k.channel))
}

// hashTwice returns k's hashes under two seeds: the tables index a key by
// the first and check the second, so two keys are taken for one only if
// both 64-bit hashes collide. It is written out per key type: through a
// generic function the hasher escaped to the heap, an allocation per
// lookup.
func hashTwice(seed1, seed2 maphash.Seed, k stateKey) (uint64, uint64) {
	var h maphash.Hash
	h.SetSeed(seed1)
	k.writeHash(&h)
	h1 := h.Sum64()
	h.SetSeed(seed2)
	k.writeHash(&h)
	return h1, h.Sum64()
}

// sendHashTwice is hashTwice for a sendKey.
func sendHashTwice(seed1, seed2 maphash.Seed, k sendKey) (uint64, uint64) {
	var h maphash.Hash
	h.SetSeed(seed1)
	k.writeHash(&h)
	h1 := h.Sum64()
	h.SetSeed(seed2)
	k.writeHash(&h)
	return h1, h.Sum64()
}

// get returns k's entry.
func (t *stateTable) get(k stateKey) (entry, bool) {
	h1, h2 := t.hashes(k)
	if i, ok := t.index.find(h1, t); ok && t.slots[i].h2 == h2 {
		return t.slots[i].e, true
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
	if i, ok := t.index.find(h1, t); ok {
		if t.slots[i].h2 == h2 {
			t.slots[i].e = e
		} else {
			t.overflow[k] = e
		}
		return
	}
	s := slot{h1: h1, h2: h2, e: e}
	var i int32
	if n := len(t.free); n > 0 {
		i = t.free[n-1]
		t.free = t.free[:n-1]
		t.slots[i] = s
	} else {
		t.slots = append(t.slots, s)
		i = int32(len(t.slots) - 1)
	}
	t.index.insert(h1, i, t)
}

// deleteEvents removes every entry resting on one of the events. Erasures
// are rare: the index is made again from the slots still live.
func (t *stateTable) deleteEvents(gone map[int64]bool) {
	freed := make(map[int32]bool, len(t.free))
	for _, i := range t.free {
		freed[i] = true
	}
	n := len(t.free)
	for i := range t.slots {
		if s := &t.slots[i]; !freed[int32(i)] && gone[s.e.eventID] {
			*s = slot{}
			t.free = append(t.free, int32(i))
			freed[int32(i)] = true
		}
	}
	if len(t.free) > n {
		t.index.rebuild(len(t.slots)-len(t.free), func(place func(h uint64, i int32)) {
			for i := range t.slots {
				if !freed[int32(i)] {
					place(t.slots[i].h1, int32(i))
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
// hash of the key to a slot holding a second, independent 64-bit hash that
// confirms the key and the first send; a key with more sends keeps them all
// in a small map, and a key whose first hash collides with another's goes
// to a plain map. A million recipients' sends take about 55 MB instead of
// the 110 of a map from both hashes to a slice, and the collector scans no
// key strings. Two keys agreeing on both hashes are as likely as a random
// 128-bit collision; it would only add sends to a count (a refusal, never
// a send allowed), and Consume re-checks the caps in the database anyway.
type sendTable struct {
	seed1, seed2 maphash.Seed
	index        openIndex
	slots        []sendSlot
	more         map[int32][]int64   // all the sends of slots with two or more
	overflow     map[sendKey][]int64 // keys whose first hash is another key's
	// hash, if set, replaces hashes (tests make collisions with it).
	hash func(sendKey) (uint64, uint64)
}

// sendSlot is a key's two hashes and its first send (24 bytes).
type sendSlot struct {
	h1, h2 uint64
	first  int64
}

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
func (t *sendTable) h1At(i int32) uint64 { return t.slots[i].h1 }

func (k sendKey) writeHash(h *maphash.Hash) {
	h.WriteString(string(k.person.Kind))
	h.WriteByte(0)
	h.WriteString(k.person.Key)
	h.WriteByte(0)
	h.WriteString(string(k.channel))
}

// get returns k's sends, not to be changed; a single send is returned in
// one (the caller's buffer).
func (t *sendTable) get(k sendKey, one *[1]int64) []int64 {
	h1, h2 := t.hashes(k)
	i, ok := t.index.find(h1, t)
	if !ok {
		return nil
	}
	if t.slots[i].h2 != h2 {
		return t.overflow[k]
	}
	if ts, ok := t.more[i]; ok {
		return ts
	}
	one[0] = t.slots[i].first
	return one[:]
}

// add appends ts to k's sends, dropping those before horizon.
func (t *sendTable) add(k sendKey, horizon int64, ts ...int64) {
	if len(ts) == 0 {
		return
	}
	h1, h2 := t.hashes(k)
	i, ok := t.index.find(h1, t)
	if ok && t.slots[i].h2 != h2 {
		t.overflow[k] = appendKept(t.overflow[k], horizon, ts)
		return
	}
	if !ok {
		i = int32(len(t.slots))
		t.slots = append(t.slots, sendSlot{h1: h1, h2: h2, first: ts[0]})
		t.index.insert(h1, i, t)
		if len(ts) > 1 {
			t.more[i] = append([]int64(nil), ts...)
		}
		return
	}
	old, many := t.more[i]
	if !many {
		old = []int64{t.slots[i].first}
	}
	all := appendKept(old, horizon, ts)
	t.slots[i].first = all[0]
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
