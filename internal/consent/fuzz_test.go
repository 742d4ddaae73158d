package consent_test

import (
	"testing"
	"unicode/utf8"

	"github.com/kith-scrm/kith/internal/consent"
)

// FuzzParseSMSOptOut checks that parsing never panics, that normalising is
// idempotent and parsing stable under it, and that a keyword found parses
// as itself.
func FuzzParseSMSOptOut(f *testing.F) {
	for _, s := range []string{"T", "ｔｄ ", "  td。", "退订", "TD 谢谢", "TD你好吗", "today", "取消订单", "\xff\xfe", "ǆ", "ﬀ", "e\u0301", "\u200b", "STOP!!!", "ⓣⓓ", "㍻"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kw, ok := consent.ParseSMSOptOut(s)
		n := consent.NormalizeReply(s)
		if !utf8.ValidString(n) {
			t.Fatalf("NormalizeReply(%q) = %q is not UTF-8", s, n)
		}
		if n2 := consent.NormalizeReply(n); n2 != n {
			t.Fatalf("NormalizeReply not idempotent: %q → %q → %q", s, n, n2)
		}
		kw2, ok2 := consent.ParseSMSOptOut(n)
		if kw2 != kw || ok2 != ok {
			t.Fatalf("ParseSMSOptOut(%q) = %q %v but of its normal form %q = %q %v", s, kw, ok, n, kw2, ok2)
		}
		if ok != (kw != "") {
			t.Fatalf("ParseSMSOptOut(%q) = %q %v", s, kw, ok)
		}
		if ok {
			if kw3, ok3 := consent.ParseSMSOptOut(kw); !ok3 || kw3 != kw {
				t.Fatalf("keyword %q of %q parses as %q %v", kw, s, kw3, ok3)
			}
		}
	})
}

// FuzzParseUnsubscribeToken checks that no input panics the parser and that
// only tokens made under the key are accepted, naming a valid person.
func FuzzParseUnsubscribeToken(f *testing.F) {
	for _, p := range []struct {
		p  consent.Person
		ch consent.Channel
	}{{bob, consent.ChannelEmail}, {alice, consent.ChannelSMS}, {wm, consent.ChannelWeCom}} {
		tok, err := consent.UnsubscribeToken(tokenKey, p.p, p.ch)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tok)
		f.Add(tok[:len(tok)-1])
	}
	f.Add("")
	f.Add("AQ")
	f.Fuzz(func(t *testing.T, tok string) {
		p, ch, err := consent.ParseUnsubscribeToken(tokenKey, tok)
		if err != nil {
			return
		}
		// Accepted: it must be exactly the token made for that person.
		again, err := consent.UnsubscribeToken(tokenKey, p, ch)
		if err != nil || again != tok {
			t.Fatalf("accepted %q for %v/%s, which makes %q (%v)", tok, p, ch, again, err)
		}
	})
}
