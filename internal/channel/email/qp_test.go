package email

import (
	"bytes"
	"math/rand/v2"
	"mime/quotedprintable"
	"strings"
	"testing"
)

// stdQP is what mime/quotedprintable's Writer writes for s.
func stdQP(s string) string {
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

func ownQP(s string) string {
	var b bytes.Buffer
	writeQP(&b, s)
	return b.String()
}

// qpCases are texts at the edges of the encoding: spaces and tabs before
// line breaks and at the end, lines of 74 to 78 characters, encoded bytes
// at the soft break, lone CRs and LFs, CRLF split by an encoded byte.
func qpCases() []string {
	cases := []string{"", " ", "\t", "=", "a \r\nb", "a\t\nb ", "x\r\r\n\n", "\r\xff\n", "é à\r\n", "end \t",
		"Dear Customer 1,\n\nThe spring collection has arrived in store and online: linen shirts, light jackets and new colours.\n"}
	for n := 70; n <= 80; n++ {
		for _, tail := range []string{"", " ", "=", "é", "\n", " \n", "\t\r\n", "==", "a b"} {
			cases = append(cases, strings.Repeat("a", n)+tail, strings.Repeat("=", n/3)+tail, strings.Repeat("ab ", n/3)+tail)
		}
	}
	cases = append(cases, benchLike())
	return cases
}

func benchLike() string {
	return "Dear {{name}},\n\n" + strings.Repeat("The spring collection has arrived in store and online: linen shirts, light jackets and new colours.\n", 6) +
		"\nThis message was sent to c1@bench.example.\n" + DefaultFooterText +
		"<html><body><p>Dear Customer 1,</p><p>Mixed: prix réduits — 春季新品 — 100% off=yes</p></body></html>"
}

// TestQPAsStandardLibrary: writeQP writes what mime/quotedprintable writes,
// byte for byte, for edge cases and random texts of the bytes that matter.
func TestQPAsStandardLibrary(t *testing.T) {
	for _, s := range qpCases() {
		if got, want := ownQP(s), stdQP(s); got != want {
			t.Fatalf("writeQP(%q)\n = %q\nwant %q", s, got, want)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab  \t\t\r\n=.é\xff\x00~!")
	for range 20000 {
		n := rng.IntN(300)
		buf := make([]byte, n)
		for i := range buf {
			if rng.IntN(4) == 0 {
				buf[i] = byte(rng.IntN(256))
			} else {
				buf[i] = alphabet[rng.IntN(len(alphabet))]
			}
		}
		s := string(buf)
		if got, want := ownQP(s), stdQP(s); got != want {
			t.Fatalf("writeQP(%q)\n = %q\nwant %q", s, got, want)
		}
	}
}

func FuzzQP(f *testing.F) {
	for _, s := range qpCases() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ownQP(s), stdQP(s); got != want {
			t.Fatalf("writeQP(%q)\n = %q\nwant %q", s, got, want)
		}
	})
}

func BenchmarkQP(b *testing.B) {
	s := benchLike()
	var buf bytes.Buffer
	b.Run("own", func(b *testing.B) {
		for b.Loop() {
			buf.Reset()
			writeQP(&buf, s)
		}
	})
	b.Run("std", func(b *testing.B) {
		for b.Loop() {
			buf.Reset()
			w := quotedprintable.NewWriter(&buf)
			w.Write([]byte(s))
			w.Close()
		}
	})
}
