package callback

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"slices"
)

// MaxBody bounds a callback body. WeCom's event XML is a few kilobytes; the
// bound keeps a hostile sender from making the server buffer and decrypt
// arbitrarily large input.
const MaxBody = 1 << 20

const (
	// encodingAESKeyLen is the length of an EncodingAESKey: 43 base64
	// characters that, with one "=" appended, decode to 32 bytes.
	encodingAESKeyLen = 43

	// padBlock is the PKCS#7 block size WeCom pads to. It is 32, not AES's
	// 16: a ciphertext that is a multiple of 16 but not of 32 was not made
	// by WeCom.
	padBlock = 32

	randomLen = 16 // random prefix of every encrypted message
	lengthLen = 4  // big-endian length of msg after the prefix
)

// Crypto verifies, decrypts and encrypts callback messages for one callback
// configuration: the Token and EncodingAESKey set on the app's 接收消息 page,
// and the receive id, which is the CorpID for a self-built app.
//
// A Crypto is safe for concurrent use. Printing it never shows the token or
// the key.
type Crypto struct {
	token     string
	block     cipher.Block // AES-256 with the decoded EncodingAESKey
	iv        []byte       // the first 16 bytes of the AES key, as WeCom specifies
	receiveID string

	// random supplies the 16-byte prefix of encrypted messages; nil means
	// crypto/rand. Tests set it to reproduce the official vectors.
	random io.Reader
}

// NewCrypto returns a Crypto for a callback configuration. The token must not
// be empty, the EncodingAESKey must be exactly 43 characters from A-Z, a-z and
// 0-9, and the receive id (the CorpID for a self-built app) must not be empty.
// The error wraps ErrConfig and names what is wrong without quoting the
// secret.
func NewCrypto(token, encodingAESKey, receiveID string) (*Crypto, error) {
	if token == "" {
		return nil, fmt.Errorf("%w: the callback Token is empty", ErrConfig)
	}
	if n := len(encodingAESKey); n != encodingAESKeyLen {
		return nil, fmt.Errorf("%w: the EncodingAESKey must be %d characters long, not %d",
			ErrConfig, encodingAESKeyLen, n)
	}
	for i := 0; i < len(encodingAESKey); i++ {
		if !isAlnum(encodingAESKey[i]) {
			return nil, fmt.Errorf("%w: the EncodingAESKey may only contain A-Z, a-z and 0-9; character %d is not one of them",
				ErrConfig, i+1)
		}
	}
	if receiveID == "" {
		return nil, fmt.Errorf("%w: the receive id (CorpID) is empty", ErrConfig)
	}
	// Not base64.StdEncoding.Strict(): the 43rd character carries two unused
	// bits, and WeCom does not keep them zero (the official test key ends in
	// "C", whose low bits are 10).
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("%w: the EncodingAESKey does not decode to a 32-byte AES key", ErrConfig)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: the EncodingAESKey is not a usable AES key", ErrConfig)
	}
	return &Crypto{token: token, block: block, iv: key[:aes.BlockSize], receiveID: receiveID}, nil
}

func isAlnum(b byte) bool {
	return 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9'
}

// ReceiveID returns the receive id the Crypto accepts and encrypts for.
func (c *Crypto) ReceiveID() string { return c.receiveID }

// String describes the Crypto without its token or key, so a Crypto that
// ends up in a log line leaks nothing.
func (c *Crypto) String() string {
	return fmt.Sprintf("callback.Crypto{receiveID: %q, token: <redacted>, key: <redacted>}", c.receiveID)
}

// GoString is String for the %#v verb.
func (c *Crypto) GoString() string { return c.String() }

// Signature returns WeCom's msg_signature: the lowercase hex SHA-1 of token,
// timestamp, nonce and encrypt, sorted in byte order and concatenated.
func Signature(token, timestamp, nonce, encrypt string) string {
	parts := []string{token, timestamp, nonce, encrypt}
	slices.Sort(parts)
	h := sha1.New()
	for _, p := range parts {
		io.WriteString(h, p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// verify checks msgSignature in constant time. The comparison is exact:
// WeCom sends lowercase hex, so an uppercase signature is refused too.
func (c *Crypto) verify(msgSignature, timestamp, nonce, encrypt string) error {
	want := Signature(c.token, timestamp, nonce, encrypt)
	if subtle.ConstantTimeCompare([]byte(msgSignature), []byte(want)) != 1 {
		return ErrSignature
	}
	return nil
}

// VerifyURL answers WeCom's URL verification (the GET request sent when the
// callback URL is saved). It takes the query parameters already URL-decoded
// (as r.URL.Query() returns them), checks msg_signature over token,
// timestamp, nonce and echostr, decrypts echostr and checks its receive id.
// The result is the msg to write back as the whole response body: no quotes,
// no newline.
func (c *Crypto) VerifyURL(msgSignature, timestamp, nonce, echostr string) ([]byte, error) {
	if len(echostr) > MaxBody {
		return nil, fmt.Errorf("%w: echostr is %d bytes, the limit is %d", ErrTooLarge, len(echostr), MaxBody)
	}
	if err := c.verify(msgSignature, timestamp, nonce, echostr); err != nil {
		return nil, err
	}
	return c.decrypt(echostr)
}

// Open handles an event delivery (the POST request). It parses the envelope
// body (<xml><ToUserName/><AgentID/><Encrypt/></xml>), checks msg_signature
// over token, timestamp, nonce and Encrypt, decrypts Encrypt, checks the
// padding, the length field and the receive id, and returns the decrypted
// XML. Nothing is decrypted before the signature has been checked.
func (c *Crypto) Open(msgSignature, timestamp, nonce string, body []byte) ([]byte, error) {
	env, err := ParseEnvelope(body)
	if err != nil {
		return nil, err
	}
	if err := c.verify(msgSignature, timestamp, nonce, env.Encrypt); err != nil {
		return nil, err
	}
	return c.decrypt(env.Encrypt)
}

// EncryptEcho makes the echostr of a URL verification, with its
// msg_signature, the way WeCom does. The local sandbox uses it to check a
// callback URL as WeCom would.
func (c *Crypto) EncryptEcho(msg, timestamp, nonce string) (echostr, msgSignature string, err error) {
	echostr, err = c.encrypt([]byte(msg))
	if err != nil {
		return "", "", err
	}
	return echostr, Signature(c.token, timestamp, nonce, echostr), nil
}

// decrypt reverses encrypt. Callers verify the signature first, so a
// malformed ciphertext here is never an oracle for someone without the token.
func (c *Crypto) decrypt(encrypt string) ([]byte, error) {
	buf, err := base64.StdEncoding.DecodeString(encrypt)
	if err != nil {
		return nil, fmt.Errorf("%w: Encrypt is not valid base64", ErrCiphertext)
	}
	if len(buf) == 0 || len(buf)%padBlock != 0 {
		return nil, fmt.Errorf("%w: ciphertext is %d bytes, not a positive multiple of %d",
			ErrCiphertext, len(buf), padBlock)
	}
	cipher.NewCBCDecrypter(c.block, c.iv).CryptBlocks(buf, buf)

	pad := int(buf[len(buf)-1])
	if pad < 1 || pad > padBlock {
		return nil, fmt.Errorf("%w: padding byte %d is outside 1..%d", ErrCiphertext, pad, padBlock)
	}
	for _, b := range buf[len(buf)-pad:] {
		if int(b) != pad {
			return nil, fmt.Errorf("%w: the %d padding bytes are not all equal", ErrCiphertext, pad)
		}
	}
	content := buf[:len(buf)-pad]
	if len(content) < randomLen+lengthLen {
		return nil, fmt.Errorf("%w: %d bytes after unpadding, fewer than the %d-byte header",
			ErrCiphertext, len(content), randomLen+lengthLen)
	}
	n := binary.BigEndian.Uint32(content[randomLen:])
	rest := content[randomLen+lengthLen:]
	if uint64(n) > uint64(len(rest)) {
		return nil, fmt.Errorf("%w: length field %d exceeds the %d bytes that follow it",
			ErrCiphertext, n, len(rest))
	}
	msg, receiveID := rest[:n:n], rest[n:]
	if subtle.ConstantTimeCompare(receiveID, []byte(c.receiveID)) != 1 {
		return nil, ErrReceiveID
	}
	return msg, nil
}

// encrypt builds random(16) ‖ len(msg) big-endian ‖ msg ‖ receive id, pads it
// with PKCS#7 to a multiple of 32, encrypts it with AES-256-CBC and returns
// it in base64.
func (c *Crypto) encrypt(msg []byte) (string, error) {
	if uint64(len(msg)) > math.MaxUint32 {
		return "", fmt.Errorf("%w: a message of %d bytes does not fit the 4-byte length field", ErrTooLarge, len(msg))
	}
	n := randomLen + lengthLen + len(msg) + len(c.receiveID)
	pad := padBlock - n%padBlock // 1..32: a full block when n is already aligned
	buf := make([]byte, n+pad)

	r := c.random
	if r == nil {
		r = rand.Reader
	}
	if _, err := io.ReadFull(r, buf[:randomLen]); err != nil {
		return "", fmt.Errorf("callback: read random prefix: %w", err)
	}
	binary.BigEndian.PutUint32(buf[randomLen:], uint32(len(msg)))
	copy(buf[randomLen+lengthLen:], msg)
	copy(buf[randomLen+lengthLen+len(msg):], c.receiveID)
	for i := n; i < len(buf); i++ {
		buf[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(c.block, c.iv).CryptBlocks(buf, buf)
	return base64.StdEncoding.EncodeToString(buf), nil
}
