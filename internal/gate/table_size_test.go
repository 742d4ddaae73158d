package gate

import (
	"testing"
	"unsafe"

	"github.com/kith-scrm/kith/internal/consent"
)

// The gate keeps a slot per consent state, a million and more: it stays 24
// bytes (it was 88 with the action as a string and a live flag, then 64
// with the rare fields and all of the second hash in it).
func TestSlotSize(t *testing.T) {
	if n := unsafe.Sizeof(slot{}); n != 24 {
		t.Errorf("a state slot is %d bytes, want 24", n)
	}
}

// Every consent action keeps its meaning in one byte.
func TestActionOf(t *testing.T) {
	for a, want := range map[consent.Action]action{consent.Grant: actionGrant, consent.Withdraw: actionWithdraw, consent.Refuse: actionRefuse, "maybe": actionOther} {
		if got := actionOf(string(a)); got != want {
			t.Errorf("actionOf(%q) = %d, want %d", a, got, want)
		}
	}
}

// A send slot, one per person and channel sent to, packs its 64-bit hash
// and time in 32-bit words (20 bytes, not 24), and keeps them whole.
func TestSendSlot(t *testing.T) {
	if n := unsafe.Sizeof(sendSlot{}); n != 20 {
		t.Errorf("a send slot is %d bytes, want 20", n)
	}
	for _, v := range []struct {
		h1    uint64
		first int64
	}{{0, 0}, {1<<64 - 1, -1}, {0x0123456789abcdef, 1_780_000_000_000_000}, {1 << 63, -1 << 63}} {
		s := makeSendSlot(v.h1, 7, v.first)
		if s.h1() != v.h1 || s.first() != v.first || s.h2 != 7 {
			t.Errorf("makeSendSlot(%#x, 7, %d) = %#x, %d, %d", v.h1, v.first, s.h1(), s.first(), s.h2)
		}
		s.setFirst(v.first + 1)
		if s.first() != v.first+1 || s.h1() != v.h1 {
			t.Errorf("setFirst(%d): %d, %#x", v.first+1, s.first(), s.h1())
		}
	}
}
