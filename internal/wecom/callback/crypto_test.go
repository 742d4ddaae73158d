package callback

import (
	"bytes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

func TestVectorAVerifyURL(t *testing.T) {
	c := vectorCrypto(t)
	msg, err := c.VerifyURL(vecASignature, vecATimestamp, vecANonce, vecAEchostr)
	if err != nil {
		t.Fatalf("VerifyURL: %v", err)
	}
	if string(msg) != vecAMsg {
		t.Fatalf("VerifyURL = %q, want %q", msg, vecAMsg)
	}
}

func TestVectorBOpen(t *testing.T) {
	c := vectorCrypto(t)
	msg, err := c.Open(vecBSignature, vecBTimestamp, vecBNonce, vecBBody)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if string(msg) != vecBMsg {
		t.Fatalf("Open =\n%q\nwant\n%q", msg, vecBMsg)
	}
	e, err := ParseEvent(msg)
	if err != nil {
		t.Fatalf("ParseEvent: %v", err)
	}
	if e.FromUserName != "mycreate" || e.MsgType != "text" || e.CreateTime != 1409659813 || e.AgentID != 218 {
		t.Fatalf("ParseEvent = from %q type %q time %d agent %d, want mycreate text 1409659813 218",
			e.FromUserName, e.MsgType, e.CreateTime, e.AgentID)
	}
	if e.ToUserName != vecCorpID || e.Content != "hello" || e.MsgID != "4561255354251345929" || e.Kind() != "text" {
		t.Fatalf("ParseEvent = %+v", e)
	}
}

func TestSignatureVectors(t *testing.T) {
	if got := Signature(vecToken, vecATimestamp, vecANonce, vecAEchostr); got != vecASignature {
		t.Errorf("Signature(A) = %s, want %s", got, vecASignature)
	}
	if got := Signature(vecToken, vecBTimestamp, vecBNonce, vecBEncrypt); got != vecBSignature {
		t.Errorf("Signature(B) = %s, want %s", got, vecBSignature)
	}
	// The order of the arguments does not matter: they are sorted.
	if Signature(vecBNonce, vecBEncrypt, vecToken, vecBTimestamp) != vecBSignature {
		t.Error("Signature depends on argument order")
	}
	// SHA-1 of "abcd" ("a","b","c","d" sorted and joined).
	if got := Signature("d", "b", "c", "a"); got != "81fe8bfe87576c3ecb22426f8e57847382917acf" {
		t.Errorf("Signature(d,b,c,a) = %s", got)
	}
}

// TestEncryptReproducesVectors fixes the random prefix to the one in the
// official example and checks that encryption gives the published
// ciphertexts byte for byte.
func TestEncryptReproducesVectors(t *testing.T) {
	for _, v := range []struct{ name, random, msg, want string }{
		{"A", vecARandom, vecAMsg, vecAEchostr},
		{"B", vecBRandom, vecBMsg, vecBEncrypt},
	} {
		t.Run(v.name, func(t *testing.T) {
			c := vectorCrypto(t)
			c.random = strings.NewReader(v.random)
			got, err := c.encrypt([]byte(v.msg))
			if err != nil {
				t.Fatalf("encrypt: %v", err)
			}
			if got != v.want {
				t.Fatalf("encrypt =\n%s\nwant\n%s", got, v.want)
			}
		})
	}
	c := vectorCrypto(t)
	c.random = strings.NewReader(vecARandom)
	echostr, sig, err := c.EncryptEcho(vecAMsg, vecATimestamp, vecANonce)
	if err != nil || echostr != vecAEchostr || sig != vecASignature {
		t.Fatalf("EncryptEcho = %q, %q, %v; want the vector", echostr, sig, err)
	}
}

// roundTripMessages are the messages every round trip is tried with.
func roundTripMessages(t *testing.T) [][]byte {
	t.Helper()
	msgs := [][]byte{
		{},
		{'x'},
		bytes.Repeat([]byte("a"), 31),
		bytes.Repeat([]byte("a"), 32),
		bytes.Repeat([]byte("a"), 33),
		bytes.Repeat([]byte("k"), 32*1024),
		[]byte("<xml><Content><![CDATA[你好，欢迎光临本店！退订请回复 TD]]></Content></xml>"),
		[]byte("\x00\xff binary \r\n"),
	}
	// Lengths 0..64 cover every padding length 1..32 twice over for this
	// receive id; the random ones cover the rest.
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 64; n++ {
		msgs = append(msgs, randomBytes(r, n))
	}
	for range 200 {
		msgs = append(msgs, randomBytes(r, r.IntN(5000)))
	}
	return msgs
}

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestSealOpenRoundTrip(t *testing.T) {
	c := vectorCrypto(t)
	pads := map[int]bool{}
	for i, msg := range roundTripMessages(t) {
		ts, nonce := fmt.Sprint(1700000000+i), fmt.Sprint(1000+i)
		body, sig, err := c.Seal(msg, ts, nonce)
		if err != nil {
			t.Fatalf("Seal(%d bytes): %v", len(msg), err)
		}
		env, err := ParseEnvelope(body)
		if err != nil {
			t.Fatalf("ParseEnvelope(Seal(%d bytes)): %v", len(msg), err)
		}
		if env.ToUserName != vecCorpID {
			t.Fatalf("Seal ToUserName = %q, want %q", env.ToUserName, vecCorpID)
		}
		raw, err := base64.StdEncoding.DecodeString(env.Encrypt)
		if err != nil {
			t.Fatalf("Seal Encrypt is not base64: %v", err)
		}
		if len(raw)%32 != 0 {
			t.Fatalf("Seal(%d bytes): ciphertext is %d bytes, not a multiple of 32", len(msg), len(raw))
		}
		pads[len(raw)-(16+4+len(msg)+len(vecCorpID))] = true

		got, err := c.Open(sig, ts, nonce, body)
		if err != nil {
			t.Fatalf("Open(Seal(%d bytes)): %v", len(msg), err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("Open(Seal(%d bytes)) returned %d different bytes", len(msg), len(got))
		}
	}
	for p := 1; p <= 32; p++ {
		if !pads[p] {
			t.Errorf("no round trip used padding length %d", p)
		}
	}
}

func TestEncryptEchoVerifyURLRoundTrip(t *testing.T) {
	c := vectorCrypto(t)
	for i, msg := range roundTripMessages(t) {
		if !utf8.Valid(msg) {
			continue // echostr messages are strings, but any bytes would do
		}
		ts, nonce := fmt.Sprint(1700000000+i), fmt.Sprint(i)
		echostr, sig, err := c.EncryptEcho(string(msg), ts, nonce)
		if err != nil {
			t.Fatalf("EncryptEcho: %v", err)
		}
		got, err := c.VerifyURL(sig, ts, nonce, echostr)
		if err != nil {
			t.Fatalf("VerifyURL(EncryptEcho(%d bytes)): %v", len(msg), err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("VerifyURL(EncryptEcho(%q)) = %q", msg, got)
		}
	}
}

func TestSealReplyOpens(t *testing.T) {
	c := vectorCrypto(t)
	msg := []byte("<xml><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[收到]]></Content></xml>")
	body, err := c.SealReply(msg, "1409659813", "1372623149")
	if err != nil {
		t.Fatalf("SealReply: %v", err)
	}
	var reply struct {
		Encrypt, MsgSignature, TimeStamp, Nonce string
	}
	if err := xml.Unmarshal(body, &reply); err != nil {
		t.Fatalf("reply is not XML: %v", err)
	}
	if reply.TimeStamp != "1409659813" || reply.Nonce != "1372623149" {
		t.Fatalf("reply = %+v", reply)
	}
	got, err := c.Open(reply.MsgSignature, reply.TimeStamp, reply.Nonce, body)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("Open(SealReply) = %q, %v", got, err)
	}
}

func TestSealUsesFreshRandomPrefix(t *testing.T) {
	c := vectorCrypto(t)
	a, _, err := c.EncryptEcho("same", "1", "2")
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := c.EncryptEcho("same", "1", "2")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("two encryptions of one message are identical: the random prefix is not random")
	}
}

func TestSealEscapesReceiveID(t *testing.T) {
	c := MustCrypto(t, vecToken, vecKey, "corp]]><Encrypt>evil</Encrypt>")
	body, sig, err := c.Seal([]byte("hi"), "1", "2")
	if err != nil {
		t.Fatal(err)
	}
	env, err := ParseEnvelope(body)
	if err != nil || env.ToUserName != c.ReceiveID() {
		t.Fatalf("ParseEnvelope(Seal) = %+v, %v", env, err)
	}
	if got, err := c.Open(sig, "1", "2", body); err != nil || string(got) != "hi" {
		t.Fatalf("Open(Seal) = %q, %v", got, err)
	}
}

// encryptRaw encrypts plain, whose length must be a multiple of 16, with no
// framing or padding, so tests can hand decrypt any plaintext bytes.
func encryptRaw(c *Crypto, plain []byte) string {
	buf := bytes.Clone(plain)
	cipher.NewCBCEncrypter(c.block, c.iv).CryptBlocks(buf, buf)
	return base64.StdEncoding.EncodeToString(buf)
}

// frame lays out random ‖ length ‖ msg ‖ receive id with the given length
// field, unpadded.
func frame(length uint32, msg, receiveID string) []byte {
	b := []byte("0123456789abcdef")
	b = binary.BigEndian.AppendUint32(b, length)
	return append(append(b, msg...), receiveID...)
}

// pad appends PKCS#7 padding to a multiple of 32.
func pad(b []byte) []byte {
	n := 32 - len(b)%32
	return append(b, bytes.Repeat([]byte{byte(n)}, n)...)
}

// signedBody wraps encrypt in an envelope and signs it with the vector
// token, so that a test reaches the decryption step.
func signedBody(encrypt string) (body []byte, sig string) {
	body = []byte("<xml><ToUserName><![CDATA[" + vecCorpID + "]]></ToUserName><Encrypt><![CDATA[" +
		encrypt + "]]></Encrypt></xml>")
	return body, Signature(vecToken, "1409659813", "1372623149", encrypt)
}

// secretMsg is a plaintext marker no error message may contain.
const secretMsg = "SECRET-PLAINTEXT-42"

func TestOpenRefusals(t *testing.T) {
	c := vectorCrypto(t)
	const ts, nonce = "1409659813", "1372623149"
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == '0' {
			b[i] = '1'
		} else {
			b[i] = '0'
		}
		return string(b)
	}
	good := frame(uint32(len(secretMsg)), secretMsg, vecCorpID)
	raw := func(plain []byte) string { return encryptRaw(c, plain) }
	validRaw, _ := base64.StdEncoding.DecodeString(raw(pad(good)))
	b64 := base64.StdEncoding.EncodeToString

	type req struct {
		sig, ts, nonce string
		body           []byte
	}
	signed := func(encrypt string) req {
		body, sig := signedBody(encrypt)
		return req{sig, ts, nonce, body}
	}
	padded := pad(good)
	inconsistent := bytes.Clone(padded)
	inconsistent[len(inconsistent)-2]-- // pad length byte stays, one pad byte differs
	zeroPad := bytes.Clone(padded)
	zeroPad[len(zeroPad)-1] = 0
	pad33 := bytes.Clone(padded)
	pad33[len(pad33)-1] = 33
	otherCorp := MustCrypto(t, vecToken, vecKey, "ww0000000000000000")

	tests := []struct {
		name string
		c    *Crypto
		r    req
		want error
	}{
		{"vector B with one hex digit changed", c, req{flip(vecBSignature, 7), ts, nonce, vecBBody}, ErrSignature},
		{"vector B with the last hex digit changed", c, req{flip(vecBSignature, 39), ts, nonce, vecBBody}, ErrSignature},
		{"vector B with an uppercase signature", c, req{strings.ToUpper(vecBSignature), ts, nonce, vecBBody}, ErrSignature},
		{"vector B with no signature", c, req{"", ts, nonce, vecBBody}, ErrSignature},
		{"vector B with a truncated signature", c, req{vecBSignature[:39], ts, nonce, vecBBody}, ErrSignature},
		{"vector B with another timestamp", c, req{vecBSignature, "1409659814", nonce, vecBBody}, ErrSignature},
		{"vector B with another nonce", c, req{vecBSignature, ts, "1372623148", vecBBody}, ErrSignature},
		{"vector B for another token", MustCrypto(t, "QDG6eL", vecKey, vecCorpID), req{vecBSignature, ts, nonce, vecBBody}, ErrSignature},
		{"vector B for another corp", otherCorp, req{vecBSignature, ts, nonce, vecBBody}, ErrReceiveID},
		{"vector B decrypted with another key", MustCrypto(t, vecToken, "A"+vecKey[1:], vecCorpID),
			req{vecBSignature, ts, nonce, vecBBody}, ErrCiphertext},
		{"empty ciphertext", c, signed(""), ErrEnvelope},
		{"bad base64", c, signed("!!!!not base64!!!!"), ErrCiphertext},
		{"base64 of bad length", c, signed("QUJD" + "Q"), ErrCiphertext},
		{"truncated ciphertext, 1 byte short", c, signed(b64(validRaw[:len(validRaw)-1])), ErrCiphertext},
		{"truncated ciphertext, 16 bytes", c, signed(b64(validRaw[:16])), ErrCiphertext},
		// A frame that would be valid with 16-byte PKCS#7 blocks: 44 bytes + 4 of padding.
		{"ciphertext of 48 bytes (AES-aligned, not 32-aligned)", c,
			signed(raw(append(frame(6, "abcdef", vecCorpID), 4, 4, 4, 4))), ErrCiphertext},
		{"ciphertext of 33 bytes", c, signed(b64(append(bytes.Clone(validRaw[:32]), 0))), ErrCiphertext},
		{"padding byte 0", c, signed(raw(zeroPad)), ErrCiphertext},
		{"padding byte 33", c, signed(raw(pad33)), ErrCiphertext},
		{"inconsistent padding bytes", c, signed(raw(inconsistent)), ErrCiphertext},
		{"only padding", c, signed(raw(bytes.Repeat([]byte{32}, 32))), ErrCiphertext},
		{"header cut short", c, signed(raw(pad([]byte("0123456789abcdef\x00\x00")))), ErrCiphertext},
		{"length field one larger than the rest", c,
			signed(raw(pad(frame(uint32(len(secretMsg)+len(vecCorpID)+1), secretMsg, vecCorpID)))), ErrCiphertext},
		{"length field 0xFFFFFFFF", c, signed(raw(pad(frame(0xFFFFFFFF, secretMsg, vecCorpID)))), ErrCiphertext},
		{"length field one too small", c,
			signed(raw(pad(frame(uint32(len(secretMsg)-1), secretMsg, vecCorpID)))), ErrReceiveID},
		{"receive id missing", c, signed(raw(pad(frame(uint32(len(secretMsg)), secretMsg, "")))), ErrReceiveID},
		{"receive id of another corp", c,
			signed(raw(pad(frame(uint32(len(secretMsg)), secretMsg, "ww0000000000000000")))), ErrReceiveID},
		{"receive id with a suffix", c,
			signed(raw(pad(frame(uint32(len(secretMsg)), secretMsg, vecCorpID+"x")))), ErrReceiveID},
		{"empty body", c, req{vecBSignature, ts, nonce, nil}, ErrEnvelope},
		{"body not XML", c, req{vecBSignature, ts, nonce, []byte("Encrypt=" + vecBEncrypt)}, ErrEnvelope},
		{"unterminated XML", c, req{vecBSignature, ts, nonce, vecBBody[:len(vecBBody)-7]}, ErrEnvelope},
		{"wrong root element", c, req{vecBSignature, ts, nonce,
			[]byte("<doc><Encrypt><![CDATA[" + vecBEncrypt + "]]></Encrypt></doc>")}, ErrEnvelope},
		{"no Encrypt element", c, req{vecBSignature, ts, nonce, []byte("<xml><ToUserName>x</ToUserName></xml>")}, ErrEnvelope},
		{"empty Encrypt element", c, req{vecBSignature, ts, nonce, []byte("<xml><Encrypt></Encrypt></xml>")}, ErrEnvelope},
		{"body over MaxBody", c, req{vecBSignature, ts, nonce,
			append(bytes.Clone(vecBBody), bytes.Repeat([]byte(" "), MaxBody+1-len(vecBBody))...)}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.c.Open(tt.r.sig, tt.r.ts, tt.r.nonce, tt.r.body)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open = %q, %v; want %v", got, err, tt.want)
			}
			if got != nil {
				t.Errorf("Open returned %d bytes with an error", len(got))
			}
			assertNoSecrets(t, err)
		})
	}
	// The unmodified frame really does open, so the refusals above are
	// caused by what each case changed.
	body, sig := signedBody(raw(padded))
	if got, err := c.Open(sig, ts, nonce, body); err != nil || string(got) != secretMsg {
		t.Fatalf("Open(good frame) = %q, %v", got, err)
	}
}

// assertNoSecrets fails if err's message shows the token, the key or
// decrypted text.
func assertNoSecrets(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	for _, s := range []string{vecToken, vecKey, secretMsg, "mycreate", "hello"} {
		if strings.Contains(msg, s) {
			t.Errorf("error %q contains %q", msg, s)
		}
	}
}

func TestVerifyURLRefusals(t *testing.T) {
	c := vectorCrypto(t)
	tests := []struct {
		name                    string
		c                       *Crypto
		sig, ts, nonce, echostr string
		want                    error
	}{
		{"one hex digit changed", c, "6" + vecASignature[1:], vecATimestamp, vecANonce, vecAEchostr, ErrSignature},
		{"uppercase signature", c, strings.ToUpper(vecASignature), vecATimestamp, vecANonce, vecAEchostr, ErrSignature},
		{"empty signature", c, "", vecATimestamp, vecANonce, vecAEchostr, ErrSignature},
		{"echostr with + decoded as a space", c, vecASignature, vecATimestamp, vecANonce,
			strings.ReplaceAll(vecAEchostr, "+", " "), ErrSignature},
		{"another corp", MustCrypto(t, vecToken, vecKey, "ww0000000000000000"),
			vecASignature, vecATimestamp, vecANonce, vecAEchostr, ErrReceiveID},
		{"echostr over MaxBody", c, vecASignature, vecATimestamp, vecANonce, strings.Repeat("A", MaxBody+1), ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.c.VerifyURL(tt.sig, tt.ts, tt.nonce, tt.echostr)
			if !errors.Is(err, tt.want) || got != nil {
				t.Fatalf("VerifyURL = %q, %v; want %v", got, err, tt.want)
			}
			assertNoSecrets(t, err)
		})
	}
}

func TestNewCryptoRefusals(t *testing.T) {
	tests := []struct {
		name, token, key, receiveID, want string
	}{
		{"empty token", "", vecKey, vecCorpID, "Token is empty"},
		{"42-character key", vecToken, vecKey[:42], vecCorpID, "43 characters long, not 42"},
		{"44-character key", vecToken, vecKey + "A", vecCorpID, "43 characters long, not 44"},
		{"key with an = sign", vecToken, vecKey[:42] + "=", vecCorpID, "character 43"},
		{"key with a +", vecToken, "+" + vecKey[1:], vecCorpID, "character 1"},
		{"key with a /", vecToken, vecKey[:10] + "/" + vecKey[11:], vecCorpID, "character 11"},
		{"key with a -", vecToken, vecKey[:20] + "-" + vecKey[21:], vecCorpID, "character 21"},
		{"key with a space", vecToken, vecKey[:42] + " ", vecCorpID, "character 43"},
		{"key with a non-ASCII letter", vecToken, "é" + vecKey[2:], vecCorpID, "character 1"},
		{"empty key", vecToken, "", vecCorpID, "not 0"},
		{"empty receive id", vecToken, vecKey, "", "receive id (CorpID) is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewCrypto(tt.token, tt.key, tt.receiveID)
			if !errors.Is(err, ErrConfig) || c != nil {
				t.Fatalf("NewCrypto = %v, %v; want ErrConfig", c, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if tt.key != "" && strings.Contains(err.Error(), tt.key) || tt.token != "" && strings.Contains(err.Error(), tt.token) {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
}

func TestNewCryptoAcceptsAnyAlnumKey(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	for range 100 {
		key := make([]byte, 43)
		for i := range key {
			key[i] = alnum[r.IntN(len(alnum))]
		}
		c := MustCrypto(t, "t", string(key), "corp")
		body, sig, err := c.Seal([]byte("ok"), "1", "2")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := c.Open(sig, "1", "2", body); err != nil || string(got) != "ok" {
			t.Fatalf("round trip with a random key = %q, %v", got, err)
		}
	}
}

func TestCryptoPrintsNoSecrets(t *testing.T) {
	c := vectorCrypto(t)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		s := fmt.Sprintf(verb, c)
		if strings.Contains(s, vecToken) || strings.Contains(s, vecKey) || !strings.Contains(s, vecCorpID) {
			t.Errorf("Sprintf(%q, c) = %q", verb, s)
		}
	}
	if c.ReceiveID() != vecCorpID {
		t.Errorf("ReceiveID = %q", c.ReceiveID())
	}
}

func TestParseEnvelope(t *testing.T) {
	env, err := ParseEnvelope(vecBBody)
	if err != nil {
		t.Fatal(err)
	}
	if env.ToUserName != vecCorpID || env.AgentID != "218" || env.Encrypt != vecBEncrypt {
		t.Fatalf("ParseEnvelope(vector B) = %+v", env)
	}
	// A body of exactly MaxBody bytes is not too large.
	big := append(bytes.Clone(vecBBody), bytes.Repeat([]byte("\n"), MaxBody-len(vecBBody))...)
	if _, err := ParseEnvelope(big); err != nil {
		t.Fatalf("ParseEnvelope(MaxBody bytes) = %v", err)
	}
}

func TestReadBody(t *testing.T) {
	body, err := ReadBody(bytes.NewReader(make([]byte, MaxBody)))
	if err != nil || len(body) != MaxBody {
		t.Fatalf("ReadBody(MaxBody bytes) = %d bytes, %v", len(body), err)
	}
	if _, err := ReadBody(bytes.NewReader(make([]byte, MaxBody+1))); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("ReadBody(MaxBody+1 bytes) = %v, want ErrTooLarge", err)
	}
}

// TestConcurrentUse runs under -race: one Crypto serves many requests.
func TestConcurrentUse(t *testing.T) {
	c := vectorCrypto(t)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for j := range 50 {
				msg := fmt.Appendf(nil, "goroutine %d message %d", i, j)
				body, sig, err := c.Seal(msg, "1", "2")
				if err != nil {
					t.Error(err)
					return
				}
				got, err := c.Open(sig, "1", "2", body)
				if err != nil || !bytes.Equal(got, msg) {
					t.Errorf("Open = %q, %v", got, err)
					return
				}
				if _, err := c.Open(vecBSignature, vecBTimestamp, vecBNonce, vecBBody); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkOpen(b *testing.B) {
	b.Run("vectorB", func(b *testing.B) {
		c := vectorCrypto(b)
		b.SetBytes(int64(len(vecBBody)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Open(vecBSignature, vecBTimestamp, vecBNonce, vecBBody); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("4KiB", func(b *testing.B) {
		c := vectorCrypto(b)
		body, sig, err := c.Seal(bytes.Repeat([]byte("<Item>x</Item>"), 4096/14), "1", "2")
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Open(sig, "1", "2", body); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSeal(b *testing.B) {
	c := vectorCrypto(b)
	msg := []byte(vecBMsg)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.Seal(msg, "1", "2"); err != nil {
			b.Fatal(err)
		}
	}
}
