package index

import (
	"container/heap"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
)

// Numeric facts, in the order of numColumns.
const (
	numOrders = iota
	numSpent30d
	numSpent90d
	numSpent365d
	numSpentTotal
	numFacts
)

// The channels reachable: takes.
var reachChannels = [...]string{"wecom", "sms", "email"}

// state is the bitmaps of the index. Customer ids are the bitmaps' members.
// A state under construction (the build, or the reload of a few changed
// customers) is owned by one goroutine; the index's state is guarded by the
// index's lock.
type state struct {
	all      *roaring.Bitmap            // every customer: the universe of "not"
	tags     map[string]*roaring.Bitmap // tag_id → customers with it on an active follow
	members  map[string]*roaring.Bitmap // member userid → customers it follows (active)
	channels map[string]*roaring.Bitmap // follows.state → customers who came through it (active follow)
	// names seen on follows that are not active: the catalog knows them
	// (the language's Check does), though no customer matches them.
	otherMembers, otherChannels map[string]bool
	reach                       [len(reachChannels)]*roaring.Bitmap
	nums                        [numFacts]*bsi
	added                       *bsi // day of the earliest active follow
	last                        *bsi // day of the last order
	orderFacts                       // the facts of 00017 (facts_orders.go)
	// expiries are the grants that stop counting at a known time
	// (consent_state.valid_until): when one passes, its customer is read again.
	expiries []expiry
}

func newState() *state {
	s := &state{
		all:           roaring.New(),
		tags:          map[string]*roaring.Bitmap{},
		members:       map[string]*roaring.Bitmap{},
		channels:      map[string]*roaring.Bitmap{},
		otherMembers:  map[string]bool{},
		otherChannels: map[string]bool{},
		added:         newBSI(),
		last:          newBSI(),
	}
	for i := range s.reach {
		s.reach[i] = roaring.New()
	}
	for i := range s.nums {
		s.nums[i] = newBSI()
	}
	s.orderFacts.init()
	return s
}

// bitmapOf returns the bitmap of key in m, creating it.
func bitmapOf(m map[string]*roaring.Bitmap, key string) *roaring.Bitmap {
	bm, ok := m[key]
	if !ok {
		bm = roaring.New()
		m[key] = bm
	}
	return bm
}

// replace forgets every customer of ids, then takes what o (loaded for
// exactly those customers) says about them.
// (Every bsi's remove runs here, which also
// makes it forget whether it covers every customer: all changes here.)
func (s *state) replace(ids *roaring.Bitmap, o *state) {
	removeFrom(s.all, ids)
	s.all.Or(o.all)
	replaceIn(s.tags, ids, o.tags)
	replaceIn(s.members, ids, o.members)
	replaceIn(s.channels, ids, o.channels)
	for k := range o.otherMembers {
		s.otherMembers[k] = true
	}
	for k := range o.otherChannels {
		s.otherChannels[k] = true
	}
	for i := range s.reach {
		removeFrom(s.reach[i], ids)
		s.reach[i].Or(o.reach[i])
	}
	for i := range s.nums {
		s.nums[i].remove(ids)
		s.nums[i].merge(o.nums[i])
	}
	s.added.remove(ids)
	s.added.merge(o.added)
	s.last.remove(ids)
	s.last.merge(o.last)
	s.orderFacts.replace(ids, &o.orderFacts)
}

func replaceIn(m map[string]*roaring.Bitmap, ids *roaring.Bitmap, o map[string]*roaring.Bitmap) {
	for k, bm := range m {
		removeFrom(bm, ids)
		if bm.IsEmpty() {
			delete(m, k) // a name nobody has any more drops out of the catalog
		}
	}
	for k, bm := range o {
		bitmapOf(m, k).Or(bm)
	}
}

// sizeInBytes is the serialised size of every bitmap.
func (s *state) sizeInBytes() uint64 {
	n := s.all.GetSizeInBytes() + s.added.sizeInBytes() + s.last.sizeInBytes()
	for _, m := range []map[string]*roaring.Bitmap{s.tags, s.members, s.channels} {
		for _, bm := range m {
			n += bm.GetSizeInBytes()
		}
	}
	for _, bm := range s.reach {
		n += bm.GetSizeInBytes()
	}
	for _, b := range s.nums {
		n += b.sizeInBytes()
	}
	n += s.orderFacts.sizeInBytes()
	return n
}

// expiry is the moment a customer's grant stops counting.
type expiry struct {
	at time.Time
	id uint32
}

// expiryHeap orders expiries, earliest first.
type expiryHeap []expiry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// due removes and returns the customers whose grants expired by now.
func (h *expiryHeap) due(now time.Time) *roaring.Bitmap {
	ids := roaring.New()
	for h.Len() > 0 && !(*h)[0].at.After(now) {
		ids.Add(heap.Pop(h).(expiry).id)
	}
	return ids
}

func (h *expiryHeap) add(es []expiry) {
	for _, e := range es {
		heap.Push(h, e)
	}
}
