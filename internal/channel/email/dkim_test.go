package email

import (
	"strings"
	"testing"
)

// TestRelaxedCanonicalization checks the example of RFC 6376 §3.4.6 and
// the edges of the body rules.
func TestRelaxedCanonicalization(t *testing.T) {
	var h []byte
	h = relaxedHeader(h, "A: X\r\n")
	h = relaxedHeader(h, "B : Y\t\r\n\tZ  \r\n")
	if string(h) != "a:X\r\nb:Y Z\r\n" {
		t.Errorf("headers = %q", h)
	}
	for in, want := range map[string]string{
		" C \r\nD \t E\r\n\r\n\r\n": " C\r\nD E\r\n",
		"":                          "",
		"\r\n\r\n":                  "",
		"a":                         "a\r\n",
		"a\r\n\r\nb\r\n \r\n":       "a\r\n\r\nb\r\n",
		"x  \ty\r\n":                "x y\r\n",
		" lead and trail \r\n":      " lead and trail\r\n",
		"a  b\r\nc\td\r\ne f\n":     "a b\r\nc d\r\ne f\r\n",
	} {
		if got := string(appendRelaxedBody(nil, []byte(in))); got != want {
			t.Errorf("appendRelaxedBody(%q) = %q, want %q", in, got, want)
		}
	}
	if got := string(appendRelaxedBody([]byte("kept"), []byte("x  y \r\n\r\n"))); got != "keptx y\r\n" {
		t.Errorf("appendRelaxedBody after other bytes = %q", got)
	}
	for in, want := range map[string]string{"From": "from", "LIST-Unsubscribe-Post": "list-unsubscribe-post", "x-ok-9": "x-ok-9", "Ärger-Feld": "ärger-feld", "": ""} {
		if got := string(appendLower([]byte(">"), in)); got != ">"+want {
			t.Errorf("appendLower(%q) = %q, want %q", in, got, ">"+want)
		}
		var b strings.Builder
		if writeLower(&b, in); b.String() != want {
			t.Errorf("writeLower(%q) = %q, want %q", in, b.String(), want)
		}
	}
	if long := strings.Repeat("Ab", 40); string(appendLower(nil, long)) != strings.ToLower(long) {
		t.Error("appendLower of a long name")
	}
	var lb strings.Builder
	if writeLower(&lb, strings.Repeat("Ab", 40)); lb.String() != strings.Repeat("ab", 40) {
		t.Errorf("writeLower of a long name = %q", lb.String())
	}
	if got := foldList("from:to:subject:date:message-id:reply-to:list-unsubscribe:list-unsubscribe-post:list-id:mime-version:content-type"); got !=
		"from:to:subject:date:message-id:reply-to:list-unsubscribe:\r\n  list-unsubscribe-post:list-id:mime-version:content-type" {
		t.Errorf("foldList = %q", got)
	}
}

// TestGeneratedDKIMKeyAndDNSRecord: a generated key parses, signs, and its
// DNS record names the selector and carries the public key.
func TestGeneratedDKIMKeyAndDNSRecord(t *testing.T) {
	pemKey, err := GenerateDKIMKey()
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseDKIMKey([]byte(pemKey))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewDKIM("shop.example", "kith1", k); err != nil {
		t.Fatal(err)
	}
	name, value, err := DNSRecord("shop.example", "kith1", k)
	if err != nil || name != "kith1._domainkey.shop.example" || !strings.HasPrefix(value, "v=DKIM1; k=rsa; p=MIIB") {
		t.Errorf("record %q %q %v", name, value, err)
	}
}
