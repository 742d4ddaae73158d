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
	index        map[uint64]int32
	slots        []slot
	free         []int32
	overflow     map[stateKey]entry
}

// slot is 64 bytes: the two hashes and the entry. A slot is live while the
// index points at it (freed slots are zero and listed in free).
type slot struct {
	h1, h2 uint64
	e      entry
}

func newStateTable() *stateTable {
	return &stateTable{seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed(), index: map[uint64]int32{}, overflow: map[stateKey]entry{}}
}

// hashes returns the two hashes of k.
func (t *stateTable) hashes(k stateKey) (uint64, uint64) { return hashTwice(t.seed1, t.seed2, k) }

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
// both 64-bit hashes collide.
func hashTwice[K interface{ writeHash(*maphash.Hash) }](seed1, seed2 maphash.Seed, k K) (uint64, uint64) {
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
	if i, ok := t.index[h1]; ok && t.slots[i].h2 == h2 {
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
	if i, ok := t.index[h1]; ok {
		if t.slots[i].h2 == h2 {
			t.slots[i].e = e
		} else {
			t.overflow[k] = e
		}
		return
	}
	s := slot{h1: h1, h2: h2, e: e}
	if n := len(t.free); n > 0 {
		i := t.free[n-1]
		t.free = t.free[:n-1]
		t.slots[i] = s
		t.index[h1] = i
		return
	}
	t.slots = append(t.slots, s)
	t.index[h1] = int32(len(t.slots) - 1)
}

// deleteEvents removes every entry resting on one of the events.
func (t *stateTable) deleteEvents(gone map[int64]bool) {
	for i := range t.slots {
		s := &t.slots[i]
		if !gone[s.e.eventID] {
			continue
		}
		if j, ok := t.index[s.h1]; ok && j == int32(i) {
			delete(t.index, s.h1)
			*s = slot{}
			t.free = append(t.free, int32(i))
		}
	}
	for k, e := range t.overflow {
		if gone[e.eventID] {
			delete(t.overflow, k)
		}
	}
}

// len returns the number of entries.
func (t *stateTable) len() int { return len(t.index) + len(t.overflow) }

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
	index        map[uint64]int32
	slots        []sendSlot
	more         map[int32][]int64   // all the sends of slots with two or more
	overflow     map[sendKey][]int64 // keys whose first hash is another key's
}

// sendSlot is a key's second hash and its first send (16 bytes).
type sendSlot struct {
	h2    uint64
	first int64
}

func newSendTable() *sendTable {
	return &sendTable{seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed(), index: map[uint64]int32{}, more: map[int32][]int64{}, overflow: map[sendKey][]int64{}}
}

func (t *sendTable) hashes(k sendKey) (uint64, uint64) { return hashTwice(t.seed1, t.seed2, k) }

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
	i, ok := t.index[h1]
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
	i, ok := t.index[h1]
	if ok && t.slots[i].h2 != h2 {
		t.overflow[k] = appendKept(t.overflow[k], horizon, ts)
		return
	}
	if !ok {
		i = int32(len(t.slots))
		t.index[h1] = i
		t.slots = append(t.slots, sendSlot{h2: h2, first: ts[0]})
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
func (t *sendTable) len() int { return len(t.index) + len(t.overflow) }
