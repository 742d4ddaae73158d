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
)

// FieldPhone is the field name of phone numbers.
const FieldPhone = "phone"

// Sealed is a protected value as stored: never the plaintext.
type Sealed struct {
	Value string // the fieldcrypt sealed value, bound to its field
	Index string // hex HMAC-SHA256 of the field and the normalised value
	KeyID string // the id of the field key that sealed Value
}

// Protector seals, opens and indexes protected fields.
type Protector struct {
	sealer   *fieldcrypt.Sealer
	blindKey []byte
}

// New returns a Protector sealing under fieldKey and indexing under
// blindKey; both have 32 bytes and must differ.
func New(fieldKey, blindKey []byte) (*Protector, error) {
	s, err := fieldcrypt.New(fieldKey)
	if err != nil {
		return nil, fmt.Errorf("protect: %w", err)
	}
	if len(blindKey) != 32 {
		return nil, fmt.Errorf("protect: the blind-index key has %d bytes, want 32", len(blindKey))
	}
	if hmac.Equal(fieldKey, blindKey) {
		return nil, errors.New("protect: the blind-index key must differ from the field key")
	}
	return &Protector{sealer: s, blindKey: append([]byte(nil), blindKey...)}, nil
}

// context binds a sealed value to its field, so a value copied into
// another field's column does not open there.
func context(field string) string { return "protect:" + field }

// Normalize returns the canonical form of a value of field: what is
// indexed and sealed.
func Normalize(field, value string) (string, error) {
	if field == FieldPhone {
		return NormalizePhone(value)
	}
	return strings.TrimSpace(value), nil
}

// Seal normalises value, encrypts it and computes its blind index.
func (p *Protector) Seal(field, value string) (Sealed, error) {
	n, err := Normalize(field, value)
	if err != nil {
		return Sealed{}, err
	}
	v := p.sealer.Seal(n, context(field))
	return Sealed{Value: v, Index: p.index(field, n), KeyID: fieldcrypt.SealedWith(v)}, nil
}

// Open decrypts a sealed value of field.
func (p *Protector) Open(field string, s Sealed) (string, error) {
	v, err := p.sealer.Open(s.Value, context(field))
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
