package protect

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kith-scrm/kith/internal/kith"
)

func mustNew(tb testing.TB) *Protector {
	tb.Helper()
	p, err := New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestSealOpenIndex(t *testing.T) {
	p := mustNew(t)
	s, err := p.Seal(FieldPhone, "+86 138-1234-1234")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s.Value, "13812341234") || s.KeyID == "" || len(s.Index) != 64 {
		t.Fatalf("sealed = %+v", s)
	}
	got, err := p.Open(FieldPhone, s)
	if err != nil || got != "13812341234" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := p.Open("address", s); err == nil {
		t.Fatal("a phone opened as another field")
	}
	for _, same := range []string{"13812341234", "008613812341234", "(138) 1234 1234"} {
		if p.Index(FieldPhone, same) != s.Index {
			t.Errorf("Index(%q) differs", same)
		}
	}
	if p.Index(FieldPhone, "13812341235") == s.Index || p.Index(FieldPhone, "abc") != "" {
		t.Fatal("index does not tell numbers apart")
	}
	other, _ := New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{3}, 32))
	if other.Index(FieldPhone, "13812341234") == s.Index {
		t.Fatal("the index does not depend on the key")
	}
	if _, err := New(bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{1}, 32)); err == nil {
		t.Fatal("same keys accepted")
	}
}

func TestNormalizePhone(t *testing.T) {
	for in, want := range map[string]string{
		"13812341234": "13812341234", "+8613812341234": "13812341234", "0086 138 1234 1234": "13812341234",
		"021-6123-4567": "02161234567", "+1 (415) 555-0100": "14155550100",
	} {
		if got, err := NormalizePhone(in); err != nil || got != want {
			t.Errorf("NormalizePhone(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "123456", "1234567890123456", "138abc41234", "1+3812341234"} {
		if _, err := NormalizePhone(bad); kith.ErrorCode(err) != kith.EINVALID {
			t.Errorf("NormalizePhone(%q) = %v, want EINVALID", bad, err)
		}
	}
}

func TestMaskPhone(t *testing.T) {
	for in, want := range map[string]string{
		"13812341234": "138****1234", "02161234567": "021****4567", "1234567": "12****67",
		"12345": "****45", "12": "****", "": "****",
	} {
		if got := MaskPhone(in); got != want {
			t.Errorf("MaskPhone(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzPhone(f *testing.F) {
	for _, s := range []string{"13812341234", "+86 138", "0086", "", "12", "-+()", "１３８"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := NormalizePhone(s); err == nil {
			if len(n) < 7 || len(n) > 15 || strings.Trim(n, "0123456789") != "" {
				t.Fatalf("NormalizePhone(%q) = %q", s, n)
			}
		}
		m := MaskPhone(s)
		if shown := len(strings.Trim(strings.ReplaceAll(m, "*", ""), "0123456789")); shown != 0 {
			t.Fatalf("MaskPhone(%q) = %q has non-digits", s, m)
		}
		if digits := len(strings.ReplaceAll(m, "*", "")); digits > 7 {
			t.Fatalf("MaskPhone(%q) = %q shows %d digits", s, m, digits)
		}
		if !strings.Contains(m, "****") {
			t.Fatalf("MaskPhone(%q) = %q hides too little", s, m)
		}
	})
}
