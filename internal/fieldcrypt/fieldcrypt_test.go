package fieldcrypt

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestSealOpen(t *testing.T) {
	s, err := New(key(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, pt := range []string{"", "secret", strings.Repeat("长", 1000)} {
		sealed := s.Seal(pt, "ctx")
		if strings.Contains(sealed, pt) && pt != "" {
			t.Fatal("plaintext visible in the sealed value")
		}
		got, err := s.Open(sealed, "ctx")
		if err != nil || got != pt {
			t.Fatalf("Open = %q, %v", got, err)
		}
		if s.Seal(pt, "ctx") == sealed {
			t.Fatal("two seals are equal: the nonce is not random")
		}
		if _, err := s.Open(sealed, "other"); !errors.Is(err, ErrOpen) {
			t.Fatal("a value opened under another context")
		}
	}
}

func TestTamperAndUnknownKey(t *testing.T) {
	s, _ := New(key(1))
	sealed := s.Seal("secret", "c")
	b := []byte(sealed)
	b[len(b)-2] ^= 1
	for _, bad := range []string{string(b), "plain", "fc1:xx:AAAA", "", "fc1:" + KeyID(key(1)) + ":!!"} {
		if _, err := s.Open(bad, "c"); !errors.Is(err, ErrOpen) {
			t.Errorf("Open(%q) = %v", bad, err)
		}
	}
	other, _ := New(key(2))
	if _, err := other.Open(sealed, "c"); !errors.Is(err, ErrOpen) {
		t.Fatal("another key opened the value")
	}
}

func TestRotation(t *testing.T) {
	old, _ := New(key(1))
	sealed := old.Seal("secret", "c")
	rotated, _ := New(key(2), key(1))
	got, err := rotated.Open(sealed, "c")
	if err != nil || got != "secret" {
		t.Fatalf("old value under the rotated sealer: %q %v", got, err)
	}
	resealed := rotated.Seal(got, "c")
	if SealedWith(resealed) != KeyID(key(2)) || SealedWith(sealed) != KeyID(key(1)) {
		t.Fatal("key ids are wrong")
	}
	if _, err := New(key(1)[:31]); err == nil {
		t.Fatal("a 31-byte key was accepted")
	}
}

func TestReseal(t *testing.T) {
	old, _ := New(key(1))
	sealed := old.Seal("secret", "c")
	rotated, _ := New(key(2), key(1))
	if rotated.Current() != KeyID(key(2)) || len(rotated.KeyIDs()) != 2 || rotated.KeyIDs()[1] != KeyID(key(1)) {
		t.Fatalf("ids %v current %s", rotated.KeyIDs(), rotated.Current())
	}
	re, changed, err := rotated.Reseal(sealed, "c")
	if err != nil || !changed || SealedWith(re) != rotated.Current() {
		t.Fatalf("Reseal = %q %v %v", re, changed, err)
	}
	if got, err := rotated.Open(re, "c"); err != nil || got != "secret" {
		t.Fatalf("resealed opens to %q %v", got, err)
	}
	again, changed, err := rotated.Reseal(re, "c")
	if err != nil || changed || again != re {
		t.Fatal("a current value was sealed again")
	}
	if _, _, err := rotated.Reseal(sealed, "other"); !errors.Is(err, ErrOpen) {
		t.Fatal("a value was resealed under another context")
	}
	newOnly, _ := New(key(2))
	if _, _, err := newOnly.Reseal(sealed, "c"); !errors.Is(err, ErrOpen) {
		t.Fatal("a value under a retired key was resealed")
	}
	if _, err := New(key(1), key(1)); err == nil {
		t.Fatal("the same key twice was accepted")
	}
}
