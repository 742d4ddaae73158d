package gate

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"time"

	"github.com/kith-scrm/kith/internal/consent"
)

// Permit allows one message to one person on one channel, once. Its only
// field is unexported, so code outside this package can hold, copy and pass
// a Permit but never make one: the zero Permit is all it can write, and
// Consume refuses it. A copy is still one permit: Consume accepts it once.
type Permit struct{ p *permit }

type permit struct {
	id       string
	token    string // permitToken of the fields below; nothing is stored
	person   consent.Person
	channel  consent.Channel
	purpose  consent.Purpose
	class    Class
	msgType  string
	campaign string
	sender   string
	tz       string
	expires  time.Time
}

// Valid reports whether p came from the gate (it is not the zero Permit).
// Only Consume says whether it may still be used.
func (p Permit) Valid() bool { return p.p != nil }

// ID returns the permit's id ("" for the zero Permit): the id Explain takes.
func (p Permit) ID() string {
	if p.p == nil {
		return ""
	}
	return p.p.id
}

// Person returns whom the permit allows a message to.
func (p Permit) Person() consent.Person {
	if p.p == nil {
		return consent.Person{}
	}
	return p.p.person
}

// Channel returns the channel the permit is for.
func (p Permit) Channel() consent.Channel {
	if p.p == nil {
		return ""
	}
	return p.p.channel
}

// ExpiresAt returns when the permit can no longer be consumed.
func (p Permit) ExpiresAt() time.Time {
	if p.p == nil {
		return time.Time{}
	}
	return p.p.expires
}

// permitKey derives the gate's permit key from the instance key, so that a
// token says nothing about the suppression hashes made with the same key.
func permitKey(key []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("kith.gate.permit-key.v1"))
	return m.Sum(nil)
}

// tokener computes permit tokens: the HMAC-SHA256 (first 128 bits, hex)
// of a permit's id and everything Consume relies on, under the gate's
// permit key, so a permit whose id or contents were changed, or that this
// gate did not issue, does not match. One tokener serves one goroutine.
type tokener struct {
	h   hash.Hash
	buf []byte
}

func newTokener(key []byte) *tokener { return &tokener{h: hmac.New(sha256.New, key)} }

func (t *tokener) token(p *permit) string {
	b := t.buf[:0]
	for _, s := range [...]string{p.id, string(p.person.Kind), p.person.Key, string(p.channel), string(p.purpose), string(p.class), p.msgType,
		p.campaign, p.sender, p.tz} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(p.expires.UnixMicro()))
	t.h.Reset()
	t.h.Write(b)
	t.buf = t.h.Sum(b[:0])
	return hex.EncodeToString(t.buf[:16])
}

// permitToken returns p's token (see tokener).
func permitToken(key []byte, p *permit) string { return newTokener(key).token(p) }
