package consent

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/kith-scrm/kith/internal/kith"
)

// An unsubscribe token names a person and a channel inside a link that
// anyone holding the message may use (RFC 8058: the one-click POST carries
// no cookie and no login). It is opaque — the address is encrypted, so a
// forwarded link or a proxy's log does not reveal it — and authenticated,
// so nobody can make one for another person:
//
//	token = base64url(1 ‖ iv ‖ AES-256-CTR(kEnc, iv, payload) ‖ tag)
//	iv    = HMAC-SHA256(kMac, "iv" ‖ payload)[:16]   (synthetic: the same
//	        person and channel always give the same token)
//	tag   = HMAC-SHA256(kMac, 1 ‖ iv ‖ ciphertext)[:16]
//
// with kEnc and kMac derived from the key given by HMAC with fixed labels,
// and payload = channel ‖ 0 ‖ person kind ‖ 0 ‖ person key.

const (
	tokenVersion = 1
	tokenIVLen   = 16
	tokenTagLen  = 16
	// MaxTokenLen bounds a token accepted by ParseUnsubscribeToken.
	MaxTokenLen = 1024
)

func derive(key []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// tokenKeys are the keys derived from one instance key, kept for the next
// token: a campaign makes one token per recipient under the same key, and
// deriving both keys and expanding the AES key each time was half of a
// token's cost.
type tokenKeys struct {
	key        string
	kEnc, kMac []byte
	block      cipher.Block
	macs       sync.Pool // HMAC-SHA256 under kMac, reset and reused
}

var lastTokenKeys atomic.Pointer[tokenKeys]

// keysFor returns the keys derived from key.
func keysFor(key []byte) *tokenKeys {
	if k := lastTokenKeys.Load(); k != nil && k.key == string(key) {
		return k
	}
	k := &tokenKeys{key: string(key), kEnc: derive(key, "kith.consent.unsubscribe.enc"), kMac: derive(key, "kith.consent.unsubscribe.mac")}
	var err error
	if k.block, err = aes.NewCipher(k.kEnc); err != nil {
		panic(err) // kEnc is a 32-byte HMAC output
	}
	k.macs.New = func() any { return hmac.New(sha256.New, k.kMac) }
	lastTokenKeys.Store(k)
	return k
}

// mac is HMAC-SHA256 under k.kMac over the parts, with a reused HMAC: a campaign makes a
// token per recipient, and setting up the HMAC's two hashes each time was
// about a third of a token's cost.
func (k *tokenKeys) mac(parts ...[]byte) []byte {
	m := k.macs.Get().(hash.Hash)
	m.Reset()
	for _, p := range parts {
		m.Write(p)
	}
	out := m.Sum(nil)
	k.macs.Put(m)
	return out
}

// UnsubscribeToken returns the opaque token of a person's unsubscribe link
// for a channel. key is a secret of the instance (at least 16 bytes);
// tokens made under it are refused under any other.
func UnsubscribeToken(key []byte, p Person, ch Channel) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	p, err := p.normalize()
	if err != nil {
		return "", err
	}
	if !ch.valid() {
		return "", invalid("channel %q is unknown; use wecom, sms or email", ch)
	}
	if !p.reaches(ch) {
		return "", invalid("channel %s does not reach a person identified by %s", ch, p.Kind)
	}
	k := keysFor(key)
	payload := []byte(string(ch) + "\x00" + string(p.Kind) + "\x00" + p.Key)
	iv := k.mac([]byte("iv"), payload)[:tokenIVLen]
	ct := make([]byte, len(payload))
	cipher.NewCTR(k.block, iv).XORKeyStream(ct, payload)
	head := append([]byte{tokenVersion}, iv...)
	head = append(head, ct...)
	tag := k.mac(head)[:tokenTagLen]
	return base64.RawURLEncoding.EncodeToString(append(head, tag...)), nil
}

// errBadToken is all a caller learns about a refused token.
func errBadToken() error {
	return kith.Errorf(kith.EINVALID, "consent: the unsubscribe link is not valid (it was altered, or made by another Kith)")
}

// ParseUnsubscribeToken returns the person and channel of a token made by
// UnsubscribeToken under the same key. A token that was altered, truncated
// or made under another key is refused with EINVALID; the tag is compared in
// constant time.
func ParseUnsubscribeToken(key []byte, token string) (Person, Channel, error) {
	if err := checkKey(key); err != nil {
		return Person{}, "", err
	}
	if len(token) > MaxTokenLen {
		return Person{}, "", errBadToken()
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) < 1+tokenIVLen+tokenTagLen+1 || raw[0] != tokenVersion {
		return Person{}, "", errBadToken()
	}
	k := keysFor(key)
	head, tag := raw[:len(raw)-tokenTagLen], raw[len(raw)-tokenTagLen:]
	if !hmac.Equal(tag, k.mac(head)[:tokenTagLen]) {
		return Person{}, "", errBadToken()
	}
	iv, ct := head[1:1+tokenIVLen], head[1+tokenIVLen:]
	payload := make([]byte, len(ct))
	cipher.NewCTR(k.block, iv).XORKeyStream(payload, ct)
	if !hmac.Equal(iv, k.mac([]byte("iv"), payload)[:tokenIVLen]) {
		return Person{}, "", errBadToken()
	}
	parts := strings.SplitN(string(payload), "\x00", 3)
	if len(parts) != 3 {
		return Person{}, "", errBadToken()
	}
	ch := Channel(parts[0])
	p, err := Person{Kind: PersonKind(parts[1]), Key: parts[2]}.normalize()
	if err != nil || !ch.valid() || !p.reaches(ch) {
		return Person{}, "", errBadToken()
	}
	return p, ch, nil
}
