package protect

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/kith-scrm/kith/internal/fieldcrypt"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/secrets"
)

// FieldPhone is the field name of phone numbers.
const FieldPhone = "phone"

// Sealed is a protected value as stored: never the plaintext.
type Sealed struct {
	Value string // the fieldcrypt sealed value, bound to its field
	Index string // hex HMAC-SHA256 of the field and the normalised value
	KeyID string // the id of the field key that sealed Value
	// Masked is the form shown by default; Seal fills it, and tables that
	// keep it (protected_values) return it, others leave it empty.
	Masked string
}

// Protector seals, opens and indexes protected fields.
type Protector struct {
	sealer   *fieldcrypt.Sealer
	blindKey []byte
}

// New returns a Protector sealing under fieldKey, opening under fieldKey
// and the previous field keys, and indexing under blindKey; every key has
// 32 bytes and the blind-index key differs from the field keys.
func New(fieldKey, blindKey []byte, previous ...[]byte) (*Protector, error) {
	keys := append([][]byte{fieldKey}, previous...)
	s, err := fieldcrypt.New(keys...)
	if err != nil {
		return nil, fmt.Errorf("protect: %w", err)
	}
	if len(blindKey) != 32 {
		return nil, fmt.Errorf("protect: the blind-index key has %d bytes, want 32", len(blindKey))
	}
	for _, k := range keys {
		if hmac.Equal(k, blindKey) {
			return nil, errors.New("protect: the blind-index key must differ from the field keys")
		}
	}
	return &Protector{sealer: s, blindKey: append([]byte(nil), blindKey...)}, nil
}

// FromKeys returns the Protector of the instance secrets: sealing under
// the current field key, opening under every field key.
func FromKeys(k *secrets.Keys) (*Protector, error) {
	return New(k.Field, k.BlindIndex, k.PreviousField...)
}

// Sealer returns the field-key sealer the Protector seals with, for the
// other sealed values of the instance (stored settings) and for rotation.
func (p *Protector) Sealer() *fieldcrypt.Sealer { return p.sealer }

// CurrentKey returns the id of the field key new values are sealed under.
func (p *Protector) CurrentKey() string { return p.sealer.Current() }

// context binds a sealed value to its field, so a value copied into
// another field's column does not open there.
func sealContext(field string) string { return "protect:" + field }

// Seal normalises value, encrypts it and computes its blind index.
func (p *Protector) Seal(field, value string) (Sealed, error) {
	n, err := Normalize(field, value)
	if err != nil {
		return Sealed{}, err
	}
	v := p.sealer.Seal(n, sealContext(field))
	return Sealed{Value: v, Index: p.index(field, n), KeyID: fieldcrypt.SealedWith(v), Masked: Mask(field, n)}, nil
}

// Open decrypts a sealed value of field.
func (p *Protector) Open(field string, s Sealed) (string, error) {
	v, err := p.sealer.Open(s.Value, sealContext(field))
	if err != nil {
		return "", fmt.Errorf("protect: open %s: %w", field, err)
	}
	return v, nil
}

// Index returns the blind index of value, or "" if value is not a valid
// value of field (so a search for it finds nothing by index).
func (p *Protector) Index(field, value string) string {
	n, err := Normalize(field, value)
	if err != nil || n == "" {
		return ""
	}
	return p.index(field, n)
}

func (p *Protector) index(field, normalized string) string {
	m := hmac.New(sha256.New, p.blindKey)
	m.Write([]byte(field))
	m.Write([]byte{0}) // separates field from value
	m.Write([]byte(normalized))
	return hex.EncodeToString(m.Sum(nil))
}

// NormalizePhone keeps a phone number's digits, dropping separators and a
// +86 or 0086 country prefix; it refuses anything that is not then 7 to 15
// digits.
func NormalizePhone(s string) (string, error) {
	s = strings.TrimSpace(s)
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0, r == ' ', r == '-', r == '(', r == ')', r == '.':
		default:
			return "", kith.Errorf(kith.EINVALID, "a phone number has only digits, spaces, dashes, brackets and a leading +")
		}
	}
	d := b.String()
	switch {
	case strings.HasPrefix(s, "+86"):
		d = strings.TrimPrefix(d, "86")
	case strings.HasPrefix(d, "0086"):
		d = strings.TrimPrefix(d, "0086")
	}
	if len(d) < 7 || len(d) > 15 {
		return "", kith.Errorf(kith.EINVALID, "a phone number has 7 to 15 digits")
	}
	return d, nil
}

// MaskPhone shows at most the first 3 and last 4 digits of a phone number,
// fewer for short numbers: 13812341234 → 138****1234. Whatever is not a
// digit is dropped.
func MaskPhone(s string) string {
	var d []byte
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			d = append(d, s[i])
		}
	}
	n := len(d)
	var head, tail int
	switch {
	case n >= 11:
		head, tail = 3, 4
	case n >= 7:
		head, tail = 2, 2
	case n >= 4:
		head, tail = 0, 2
	}
	hidden := n - head - tail
	if hidden < 4 {
		hidden = 4 // never tell how many digits were hidden for short values
	}
	return string(d[:head]) + strings.Repeat("*", hidden) + string(d[n-tail:])
}
