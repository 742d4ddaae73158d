package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/kith-scrm/kith/internal/kith"
)

// HashParams are argon2id's cost settings.
type HashParams struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultHashParams follow RFC 9106's second recommendation scaled to a
// small server: 64 MiB, two passes, two lanes.
var DefaultHashParams = HashParams{Memory: 64 * 1024, Time: 2, Threads: 2}

const saltLen, keyLen = 16, 32

// HashPassword returns an argon2id hash in the PHC string format
// ($argon2id$v=19$m=…,t=…,p=…$salt$hash), so parameters can be raised later
// and old hashes still verify.
func HashPassword(password string, p HashParams) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var errBadHash = errors.New("auth: malformed password hash")

// VerifyPassword reports whether password matches the PHC-format hash, in
// time that does not depend on where the two differ.
func VerifyPassword(password, hash string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	var p HashParams
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return false, errBadHash
	}
	if p.Memory < 8 || p.Memory > 1<<22 || p.Time < 1 || p.Time > 64 || p.Threads < 1 {
		return false, errBadHash // refuse hashes that would take too long to check
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// Reasons a new password is refused; the console translates each.
var (
	ErrPasswordTooShort  = kith.Errorf(kith.EINVALID, "The new password must have at least 12 characters.")
	ErrPasswordTooLong   = kith.Errorf(kith.EINVALID, "The new password must have at most 1024 bytes.")
	ErrPasswordIsName    = kith.Errorf(kith.EINVALID, "The new password must not be the user name.")
	ErrPasswordUnchanged = kith.Errorf(kith.EINVALID, "The new password must differ from the current one.")
	ErrPasswordWrong     = kith.Errorf(kith.EINVALID, "The current password is wrong.")
)

// CheckNewPassword returns one of the ErrPassword… errors when a chosen
// password is too weak to accept.
func CheckNewPassword(password, username string) error {
	switch {
	case len([]rune(password)) < 12:
		return ErrPasswordTooShort
	case len(password) > 1024:
		return ErrPasswordTooLong
	case strings.EqualFold(password, username):
		return ErrPasswordIsName
	}
	return nil
}

// GeneratePassword returns a random password: 26 characters of base32
// (A–Z, 2–7) carrying 128 bits, easy to read and type.
func GeneratePassword() string { return rand.Text() }
