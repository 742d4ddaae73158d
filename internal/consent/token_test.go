package consent_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/kith"
)

var tokenKey = []byte("test-unsubscribe-key-0123456789ab")

func TestUnsubscribeTokenRoundTrip(t *testing.T) {
	for _, c := range []struct {
		p  consent.Person
		ch consent.Channel
	}{{bob, consent.ChannelEmail}, {alice, consent.ChannelSMS}, {wm, consent.ChannelWeCom}} {
		tok, err := consent.UnsubscribeToken(tokenKey, c.p, c.ch)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(tok, "bob") || strings.Contains(tok, "13800138000") || len(tok) > consent.MaxTokenLen {
			t.Fatalf("token %q is not opaque", tok)
		}
		if strings.ContainsAny(tok, "+/=?&%") {
			t.Fatalf("token %q is not URL-safe", tok)
		}
		again, _ := consent.UnsubscribeToken(tokenKey, c.p, c.ch)
		if again != tok {
			t.Fatal("the same person and channel gave two tokens")
		}
		p, ch, err := consent.ParseUnsubscribeToken(tokenKey, tok)
		if err != nil || p != c.p || ch != c.ch {
			t.Fatalf("parse: %v %v %v, want %v %v", p, ch, err, c.p, c.ch)
		}
	}
	// Address case and spacing do not matter: the person is normalised.
	a, _ := consent.UnsubscribeToken(tokenKey, consent.Email("BOB@example.com "), consent.ChannelEmail)
	b, _ := consent.UnsubscribeToken(tokenKey, bob, consent.ChannelEmail)
	if a != b {
		t.Fatal("normalised persons gave different tokens")
	}
	other, _ := consent.UnsubscribeToken(tokenKey, consent.Email("carol@example.com"), consent.ChannelEmail)
	if other == b {
		t.Fatal("two persons share a token")
	}
}

// TestUnsubscribeTokenIsStable: links already sent keep working, so a
// token's bytes never change for the same key, person and channel — also
// when many are made at once.
func TestUnsubscribeTokenIsStable(t *testing.T) {
	const want = "Ac1Hx3GTGtmgNBiQhxTCrrFcUVVJ2vjYvi_RBg_y7Z4G9vcYgPjp9jHwkDt5-1zuv0LBRX05aywl-9Sj"
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if tok, err := consent.UnsubscribeToken(tokenKey, bob, consent.ChannelEmail); err != nil || tok != want {
					errs <- fmt.Sprintf("%q, %v", tok, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("token = %s, want %q", e, want)
	}
}

func TestUnsubscribeTokenRefusals(t *testing.T) {
	tok, err := consent.UnsubscribeToken(tokenKey, bob, consent.ChannelEmail)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	forged := []struct{ name, tok string }{
		{"empty", ""},
		{"not base64", "not a token!"},
		{"truncated", tok[:len(tok)-4]},
		{"too short", base64.RawURLEncoding.EncodeToString(raw[:20])},
		{"version flipped", flip(0)},
		{"iv flipped", flip(3)},
		{"ciphertext flipped", flip(20)},
		{"tag flipped", flip(len(raw) - 1)},
		{"extended", tok + "AA"},
		{"too long", strings.Repeat("A", consent.MaxTokenLen+1)},
		{"padded", tok + "="},
	}
	for _, f := range forged {
		if _, _, err := consent.ParseUnsubscribeToken(tokenKey, f.tok); kith.ErrorCode(err) != kith.EINVALID || !strings.Contains(kith.ErrorMessage(err), "not valid") {
			t.Errorf("%s: %v", f.name, err)
		}
	}
	if _, _, err := consent.ParseUnsubscribeToken([]byte("another-key-0123456789abcdefgh"), tok); kith.ErrorCode(err) != kith.EINVALID {
		t.Errorf("another key: %v", err)
	}
	if _, err := consent.UnsubscribeToken([]byte("short"), bob, consent.ChannelEmail); err == nil {
		t.Error("a short key was accepted")
	}
	if _, err := consent.UnsubscribeToken(tokenKey, bob, consent.ChannelSMS); kith.ErrorCode(err) != kith.EINVALID {
		t.Errorf("an e-mail person on SMS: %v", err)
	}
}

// Tokens made under one key, then another, then the first again are each
// the key's own (the derived keys kept for the next token follow the key).
func TestUnsubscribeTokenKeyChange(t *testing.T) {
	other := []byte("another-unsubscribe-key-987654321")
	a1, _ := consent.UnsubscribeToken(tokenKey, bob, consent.ChannelEmail)
	b, _ := consent.UnsubscribeToken(other, bob, consent.ChannelEmail)
	a2, _ := consent.UnsubscribeToken(tokenKey, bob, consent.ChannelEmail)
	if a1 != a2 || a1 == b {
		t.Fatalf("tokens %q, %q, %q", a1, b, a2)
	}
	if _, _, err := consent.ParseUnsubscribeToken(tokenKey, b); err == nil {
		t.Error("a token made under another key was accepted")
	}
	if p, _, err := consent.ParseUnsubscribeToken(other, b); err != nil || p != bob {
		t.Errorf("parse under its own key: %v %v", p, err)
	}
}
