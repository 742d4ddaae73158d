package callback

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"testing"
)

// isSentinel reports whether err wraps one of the package's refusals.
func isSentinel(err error) bool {
	for _, s := range []error{ErrSignature, ErrReceiveID, ErrCiphertext, ErrEnvelope, ErrTooLarge} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzOpen feeds Open arbitrary requests. It must never panic, must refuse
// with one of the sentinels, and must only succeed when msg_signature is the
// signature of the envelope's Encrypt.
func FuzzOpen(f *testing.F) {
	c := vectorCrypto(f)
	f.Add(vecBBody, vecBSignature, vecBTimestamp, vecBNonce)
	f.Add(vecBBody, "577715d11cdb4164915debcba66cb864d751f3e6", vecBTimestamp, vecBNonce)
	f.Add(vecBBody[:len(vecBBody)-20], vecBSignature, vecBTimestamp, vecBNonce)
	f.Add(bytes.Replace(vecBBody, []byte("Ryp"), []byte("Ryq"), 1), vecBSignature, vecBTimestamp, vecBNonce)
	f.Add([]byte("<xml><Encrypt></Encrypt></xml>"), "", "", "")
	f.Add([]byte("<xml><Encrypt>QUJD</Encrypt></xml>"), Signature(vecToken, "1", "2", "QUJD"), "1", "2")
	for _, msg := range []string{"", "x", vecBMsg} {
		body, sig, err := c.Seal([]byte(msg), "1409659813", "1")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body, sig, "1409659813", "1")
	}
	f.Fuzz(func(t *testing.T, body []byte, sig, ts, nonce string) {
		got, err := c.Open(sig, ts, nonce, body)
		if err != nil {
			if got != nil {
				t.Fatalf("Open returned %d bytes and %v", len(got), err)
			}
			if !isSentinel(err) {
				t.Fatalf("Open error %v wraps no sentinel", err)
			}
			return
		}
		env, perr := ParseEnvelope(body)
		if perr != nil {
			t.Fatalf("Open succeeded on a body ParseEnvelope refuses: %v", perr)
		}
		if sig != Signature(vecToken, ts, nonce, env.Encrypt) {
			t.Fatalf("Open succeeded with a wrong signature %q", sig)
		}
	})
}

// FuzzDecrypt drives the decryption below the signature check. The input is
// used twice: as a ciphertext, and as the decrypted bytes (encrypted first
// without framing), so the fuzzer controls padding, length field and
// receive id directly. Successes are checked against an independent reading
// of the frame.
func FuzzDecrypt(f *testing.F) {
	c := vectorCrypto(f)
	good := frame(uint32(len(vecBMsg)), vecBMsg, vecCorpID)
	f.Add(pad(good))
	f.Add(pad(frame(0, "", vecCorpID)))
	f.Add(pad(frame(5, "", vecCorpID)))
	f.Add(pad(frame(0xFFFFFFFF, "abc", vecCorpID)))
	f.Add(bytes.Repeat([]byte{32}, 32))
	f.Add(bytes.Repeat([]byte{0}, 64))
	f.Add([]byte{})
	raw, _ := base64.StdEncoding.DecodeString(vecBEncrypt)
	f.Add(raw)
	f.Fuzz(func(t *testing.T, data []byte) {
		// As ciphertext, in base64 and as arbitrary text.
		for _, s := range []string{base64.StdEncoding.EncodeToString(data), string(data)} {
			if msg, err := c.decrypt(s); err != nil && (msg != nil || !isSentinel(err)) {
				t.Fatalf("decrypt(%q) = %d bytes, %v", s, len(msg), err)
			}
		}
		// As plaintext.
		if len(data)%16 != 0 {
			return
		}
		msg, err := c.decrypt(encryptRaw(c, data))
		want, ok := readFrame(data)
		switch {
		case err == nil && !ok:
			t.Fatalf("decrypt accepted a frame the reference refuses")
		case err != nil && ok:
			t.Fatalf("decrypt refused a valid frame: %v", err)
		case err != nil && !isSentinel(err):
			t.Fatalf("decrypt error %v wraps no sentinel", err)
		case err == nil && !bytes.Equal(msg, want):
			t.Fatalf("decrypt = %q, want %q", msg, want)
		}
	})
}

// readFrame is a second, deliberately plain reading of a decrypted frame:
// it returns msg and whether the frame is valid.
func readFrame(b []byte) ([]byte, bool) {
	if len(b) == 0 || len(b)%32 != 0 {
		return nil, false
	}
	p := int(b[len(b)-1])
	if p == 0 || p > 32 || !bytes.Equal(b[len(b)-p:], bytes.Repeat([]byte{byte(p)}, p)) {
		return nil, false
	}
	b = b[:len(b)-p]
	if len(b) < 20 {
		return nil, false
	}
	n := int64(binary.BigEndian.Uint32(b[16:20]))
	if n > int64(len(b)-20) {
		return nil, false
	}
	if string(b[20+n:]) != vecCorpID {
		return nil, false
	}
	return b[20 : 20+n], true
}

// FuzzParseEvent must never panic; on success Kind and DedupeKey work.
func FuzzParseEvent(f *testing.F) {
	f.Add([]byte(vecBMsg))
	f.Add([]byte(contactEvent(ChangeAddExternalContact, "<State>s</State><WelcomeCode>w</WelcomeCode>")))
	f.Add([]byte("<xml><MsgType>event</MsgType><Event>change_external_chat</Event><MemChangeList><Item>a</Item><Item>b</Item></MemChangeList></xml>"))
	f.Add([]byte("<xml><Id>x</Id><TagType>tag</TagType><StrategyId>1</StrategyId></xml>"))
	f.Add([]byte("<xml><CreateTime>-1</CreateTime></xml>"))
	f.Add([]byte("<!DOCTYPE xml [<!ENTITY a \"b\">]><xml>&a;</xml>"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEvent(data)
		if err != nil {
			if e != nil {
				t.Fatal("ParseEvent returned an event and an error")
			}
			return
		}
		_ = e.Kind()
		_ = e.Time()
		if len(DedupeKey(e.CreateTime, data)) != DedupeKeyLen {
			t.Fatalf("DedupeKey is not %d bytes", DedupeKeyLen)
		}
	})
}
