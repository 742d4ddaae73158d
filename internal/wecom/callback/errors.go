package callback

import "errors"

// Sentinel errors. Every error this package returns for a refused callback
// wraps exactly one of them, so callers choose a response with errors.Is.
// The wrapping message says what was wrong, never with a key, a token or
// decrypted text in it.
var (
	// ErrSignature means msg_signature does not match the signature computed
	// with the configured token: the request did not come from WeCom, or the
	// token is wrong.
	ErrSignature = errors.New("callback: msg_signature does not match")

	// ErrReceiveID means the message decrypted correctly but was encrypted
	// for another receive id (another corp, or another suite).
	ErrReceiveID = errors.New("callback: receive id does not match")

	// ErrCiphertext means the encrypted text is malformed: bad base64, a
	// length that is not a positive multiple of 32, bad padding, or a length
	// field that does not fit the decrypted bytes.
	ErrCiphertext = errors.New("callback: malformed ciphertext")

	// ErrEnvelope means the POST body is not the XML envelope WeCom sends, or
	// it has no Encrypt element.
	ErrEnvelope = errors.New("callback: malformed envelope")

	// ErrTooLarge means the body is larger than MaxBody.
	ErrTooLarge = errors.New("callback: body too large")

	// ErrStale means the timestamp is missing, malformed, or too far from the
	// current time to be a fresh delivery.
	ErrStale = errors.New("callback: timestamp out of range")

	// ErrConfig means the token, EncodingAESKey or receive id given to
	// NewCrypto cannot be used.
	ErrConfig = errors.New("callback: invalid configuration")
)
