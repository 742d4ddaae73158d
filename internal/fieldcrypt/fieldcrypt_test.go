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
