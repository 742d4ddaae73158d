package fieldcrypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// prefix marks the format of a sealed value.
const prefix = "fc1"

// ErrOpen is returned for a value that cannot be opened: tampered, sealed
// under an unknown key, or not a sealed value at all.
var ErrOpen = errors.New("fieldcrypt: the value cannot be decrypted (tampered, or sealed under an unknown key)")

// Sealer seals under its first key and opens under any of its keys.
type Sealer struct {
	ids   []string
	aeads map[string]cipher.AEAD
}

// KeyID returns the id a key is known by: the first 8 hex digits of its
// SHA-256, which reveal nothing useful about it.
func KeyID(key []byte) string {
	h := sha256.Sum256(append([]byte("kith-fieldcrypt-key-id\x00"), key...))
	return hex.EncodeToString(h[:4])
}

// New returns a Sealer; keys[0] seals, all open. Each key has 32 bytes.
func New(keys ...[]byte) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("fieldcrypt: no key")
	}
	s := &Sealer{aeads: map[string]cipher.AEAD{}}
	for i, k := range keys {
		if len(k) != 32 {
			return nil, fmt.Errorf("fieldcrypt: key %d has %d bytes, want 32", i, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("fieldcrypt: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("fieldcrypt: %w", err)
		}
		id := KeyID(k)
		if _, dup := s.aeads[id]; dup {
			return nil, fmt.Errorf("fieldcrypt: key %d (id %s) is given twice", i, id)
		}
		s.ids = append(s.ids, id)
		s.aeads[id] = aead
	}
	return s, nil
}

// Seal encrypts plaintext; context binds the value to where it is stored
// (such as "settings:wecom.secret"), so a sealed value copied elsewhere does
// not open there.
func (s *Sealer) Seal(plaintext, context string) string {
	id := s.ids[0]
	aead := s.aeads[id]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	ct := aead.Seal(nonce, nonce, []byte(plaintext), []byte(context))
	return prefix + ":" + id + ":" + base64.RawStdEncoding.EncodeToString(ct)
}

// Open decrypts a value Seal made with the same context.
func (s *Sealer) Open(sealed, context string) (string, error) {
	parts := strings.SplitN(sealed, ":", 3)
	if len(parts) != 3 || parts[0] != prefix {
		return "", ErrOpen
	}
	aead, ok := s.aeads[parts[1]]
	if !ok {
		return "", ErrOpen
	}
	raw, err := base64.RawStdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) < aead.NonceSize() {
		return "", ErrOpen
	}
	pt, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(context))
	if err != nil {
		return "", ErrOpen
	}
	return string(pt), nil
}

// SealedWith returns the id of the key a sealed value was sealed under, or
// "" if it is not a sealed value.
func SealedWith(sealed string) string {
	parts := strings.SplitN(sealed, ":", 3)
	if len(parts) != 3 || parts[0] != prefix {
		return ""
	}
	return parts[1]
}

// Current returns the id of the key new values are sealed under.
func (s *Sealer) Current() string { return s.ids[0] }

// KeyIDs returns the ids of every key the Sealer opens with, the current
// one first.
func (s *Sealer) KeyIDs() []string { return append([]string(nil), s.ids...) }

// Reseal opens a sealed value and seals it again under the current key with
// the same context. It returns the value unchanged, and false, when it is
// already sealed under the current key.
func (s *Sealer) Reseal(sealed, context string) (string, bool, error) {
	if SealedWith(sealed) == s.ids[0] {
		return sealed, false, nil
	}
	pt, err := s.Open(sealed, context)
	if err != nil {
		return "", false, err
	}
	return s.Seal(pt, context), true, nil
}
