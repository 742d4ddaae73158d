package gate

import (
	"testing"
	"unsafe"

	"github.com/kith-scrm/kith/internal/consent"
)

// The gate keeps a slot per consent state, a million and more: it stays 64
// bytes (it was 88 with the action as a string and a live flag).
func TestSlotSize(t *testing.T) {
	if n := unsafe.Sizeof(slot{}); n != 64 {
		t.Errorf("a state slot is %d bytes, want 64", n)
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
