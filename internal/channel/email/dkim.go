package email

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strconv"
	"strings"
	"sync"

	"github.com/kith-scrm/kith/internal/kith"
)

// DKIM signs messages (RFC 6376) with relaxed/relaxed canonicalization and
// rsa-sha256 or ed25519-sha256 (RFC 8463).
//
// It is written here rather than taken from go-msgauth, whose verifier the
// tests use as the independent check: Kith builds every message itself, so
// the signer gets the header fields one by one and the body as one slice
// — no re-parsing of the rendered message, no pipe and goroutine per
// message (go-msgauth's Signer streams through both), and the h= list is
// written without the folding inside a field name that broke another Go
// mail library's signatures (sms-email.md §4.4).
type DKIM struct {
	Domain   string // d=
	Selector string // s=
	key      crypto.Signer
	algo     string
}

// NewDKIM returns a signer for domain and selector with key, an
// ed25519.PrivateKey or an *rsa.PrivateKey of at least 1024 bits.
func NewDKIM(domain, selector string, key crypto.Signer) (*DKIM, error) {
	d := &DKIM{Domain: strings.TrimSpace(domain), Selector: strings.TrimSpace(selector), key: key}
	if d.Domain == "" || d.Selector == "" || strings.ContainsAny(d.Domain+d.Selector, "; \t\r\n") {
		return nil, kith.Errorf(kith.EINVALID, "email: dkim: domain %q and selector %q must be set, without spaces or semicolons", domain, selector)
	}
	switch k := key.(type) {
	case ed25519.PrivateKey:
		d.algo = "ed25519-sha256"
	case *rsa.PrivateKey:
		if k.N.BitLen() < 1024 {
			return nil, kith.Errorf(kith.EINVALID, "email: dkim: the RSA key has %d bits; at least 1024 (2048 recommended)", k.N.BitLen())
		}
		d.algo = "rsa-sha256"
	default:
		return nil, kith.Errorf(kith.EINVALID, "email: dkim: the key must be RSA or Ed25519, not %T", key)
	}
	return d, nil
}

// ParseDKIMKey reads a PEM private key (PKCS#8, or PKCS#1 for RSA).
func ParseDKIMKey(pemBytes []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, kith.Errorf(kith.EINVALID, "email: dkim: the key is not PEM")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, kith.Errorf(kith.EINVALID, "email: dkim: the key is neither PKCS#8 nor PKCS#1: %v", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, kith.Errorf(kith.EINVALID, "email: dkim: unsupported key type %T", k)
	}
	return s, nil
}

// field is one rendered header field: "Name: value\r\n" (folded lines
// included).
type field struct {
	name string // as written
	raw  string
}

// sign returns the DKIM-Signature field over fields (each is signed, in
// order) and body, at unix time t.
func (d *DKIM) sign(fields []field, body []byte, t int64) (string, error) {
	canon := bodyBufs.Get().(*[]byte)
	*canon = appendRelaxedBody((*canon)[:0], body)
	bh := sha256.Sum256(*canon)
	bodyBufs.Put(canon)
	var names strings.Builder
	for i, f := range fields {
		if i > 0 {
			names.WriteByte(':')
		}
		writeLower(&names, f.name)
	}
	head := "DKIM-Signature: v=1; a=" + d.algo + "; c=relaxed/relaxed; d=" + d.Domain + "; s=" + d.Selector +
		";\r\n t=" + strconv.FormatInt(t, 10) + "; h=" + foldList(names.String()) +
		";\r\n bh=" + base64.StdEncoding.EncodeToString(bh[:]) + ";\r\n b="
	h := sha256.New()
	buf := make([]byte, 0, 256)
	for _, f := range fields {
		buf = relaxedHeader(buf[:0], f.raw)
		h.Write(buf)
	}
	buf = relaxedHeader(buf[:0], head)
	h.Write(buf[:len(buf)-2]) // the signature field is hashed without its CRLF
	digest := h.Sum(nil)
	var sig []byte
	var err error
	if d.algo == "ed25519-sha256" {
		sig, err = d.key.Sign(rand.Reader, digest, crypto.Hash(0))
	} else {
		sig, err = d.key.Sign(rand.Reader, digest, crypto.SHA256)
	}
	if err != nil {
		return "", kith.Errorf(kith.EINTERNAL, "email: dkim: sign: %v", err)
	}
	return head + fold(base64.StdEncoding.EncodeToString(sig), 72) + "\r\n", nil
}

// foldList folds a colon-separated h= list between names (never inside
// one) so that no line grows past about 78 characters.
func foldList(s string) string {
	var b strings.Builder
	line := 10
	for i, name := range strings.Split(s, ":") {
		if i > 0 {
			b.WriteByte(':')
			line++
			if line+len(name) > 72 {
				b.WriteString("\r\n  ")
				line = 2
			}
		}
		b.WriteString(name)
		line += len(name)
	}
	return b.String()
}

// fold breaks s every n characters with CRLF and a space (for base64
// values, where folding whitespace is ignored).
func fold(s string, n int) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n])
		b.WriteString("\r\n ")
		s = s[n:]
	}
	b.WriteString(s)
	return b.String()
}

var doubleSpace = []byte("  ")

func isWSP(c byte) bool { return c == ' ' || c == '\t' }

// relaxedHeader appends the relaxed canonical form (RFC 6376 §3.4.2) of a
// raw header field "Name: value\r\n": the name lower-cased, unfolded, every
// run of whitespace one space, none around the colon or at the end, and a
// CRLF.
func relaxedHeader(dst []byte, raw string) []byte {
	name, value, _ := strings.Cut(raw, ":")
	dst = appendLower(dst, strings.TrimRight(name, " \t"))
	dst = append(dst, ':')
	space := false
	start := len(dst)
	for i := 0; i < len(value); i++ {
		c := value[i]
		if c == '\r' || c == '\n' {
			continue
		}
		if isWSP(c) {
			space = true
			continue
		}
		if space && len(dst) > start {
			dst = append(dst, ' ')
		}
		space = false
		dst = append(dst, c)
	}
	return append(dst, '\r', '\n')
}

// appendLower appends s in lower case: field names are ASCII, lowered
// byte by byte without strings.ToLower's allocation; a name with other
// bytes (which no composed message has) goes through strings.ToLower.
func appendLower(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return append(dst, strings.ToLower(s)...)
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// writeLower writes s in lower case, as appendLower appends it.
func writeLower(b *strings.Builder, s string) {
	var buf [64]byte
	if len(s) > len(buf) {
		b.WriteString(strings.ToLower(s))
		return
	}
	b.Write(appendLower(buf[:0], s))
}

// bodyBufs hold the canonical bodies being hashed, one per signing at a
// time: a body is some kilobytes, copied for every message.
var bodyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// appendRelaxedBody appends the relaxed canonical form of body (RFC 6376
// §3.4.4) to out: whitespace at line ends dropped, runs of it one space,
// empty lines at the end dropped, and a CRLF at the end of a non-empty
// body.
func appendRelaxedBody(out, body []byte) []byte {
	empty := 0 // empty lines held back: they are dropped if nothing follows
	for len(body) > 0 {
		var line []byte
		if i := bytes.IndexByte(body, '\n'); i < 0 {
			line, body = body, nil
		} else {
			line, body = body[:i], body[i+1:]
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		line = bytes.TrimRight(line, " \t")
		if len(line) == 0 {
			empty++
			continue
		}
		for ; empty > 0; empty-- {
			out = append(out, '\r', '\n')
		}
		if bytes.IndexByte(line, '\t') < 0 && !bytes.Contains(line, doubleSpace) {
			// Already canonical (every run of whitespace is one space):
			// most lines of a composed message.
			out = append(out, line...)
			out = append(out, '\r', '\n')
			continue
		}
		space := false
		for _, c := range line {
			if isWSP(c) {
				space = true
				continue
			}
			if space {
				out = append(out, ' ')
			}
			space = false
			out = append(out, c)
		}
		out = append(out, '\r', '\n')
	}
	return out
}
