package callback

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Envelope is the XML body of an event delivery:
//
//	<xml><ToUserName/><AgentID/><Encrypt/></xml>
//
// Nothing in it is signed except Encrypt; ToUserName and AgentID may only be
// used to pick which Crypto to try.
type Envelope struct {
	ToUserName string `xml:"ToUserName"` // the CorpID, or the suite id for third-party apps
	AgentID    string `xml:"AgentID"`    // present only for app-related callbacks
	Encrypt    string `xml:"Encrypt"`    // base64 ciphertext, signed by msg_signature
}

// ParseEnvelope parses an event delivery body. A body larger than MaxBody is
// refused with ErrTooLarge; a body that is not an <xml> document with a
// non-empty Encrypt element is refused with ErrEnvelope.
func ParseEnvelope(body []byte) (*Envelope, error) {
	if len(body) > MaxBody {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(body), MaxBody)
	}
	if env, ok := parseEnvelopeFlat(body); ok {
		if env.Encrypt == "" {
			return nil, fmt.Errorf("%w: no Encrypt element", ErrEnvelope)
		}
		return env, nil
	}
	return parseEnvelopeXML(body)
}

// parseEnvelopeXML parses an envelope with encoding/xml: any shape, and the
// errors.
func parseEnvelopeXML(body []byte) (*Envelope, error) {
	var doc struct {
		XMLName xml.Name `xml:"xml"`
		Envelope
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrEnvelope, describeXMLError(err))
	}
	if doc.Encrypt == "" {
		return nil, fmt.Errorf("%w: no Encrypt element", ErrEnvelope)
	}
	return &doc.Envelope, nil
}

// ReadBody reads a callback body of at most MaxBody bytes; a longer body is
// refused with ErrTooLarge. Handlers may use it on r.Body, ideally behind
// http.MaxBytesReader.
func ReadBody(r io.Reader) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("callback: read body: %w", err)
	}
	if len(body) > MaxBody {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, MaxBody)
	}
	return body, nil
}

// cdata is text that encoding/xml writes inside <![CDATA[...]]>, as WeCom
// does; encoding/xml splits any "]]>" in it correctly.
type cdata struct {
	Text string `xml:",cdata"`
}

// Seal encrypts plaintext the way WeCom does (a random 16-byte prefix, the
// length, the message, the receive id, PKCS#7 padding to 32 bytes,
// AES-256-CBC with IV = key[:16], base64) and returns the POST body WeCom
// would send,
//
//	<xml><ToUserName><![CDATA[corp]]></ToUserName><Encrypt><![CDATA[...]]></Encrypt></xml>
//
// with its msg_signature for the query string. The local sandbox uses it to
// deliver callbacks; for a passive reply to WeCom use SealReply.
func (c *Crypto) Seal(plaintext []byte, timestamp, nonce string) (body []byte, msgSignature string, err error) {
	encrypt, err := c.encrypt(plaintext)
	if err != nil {
		return nil, "", err
	}
	body, err = xml.Marshal(struct {
		XMLName    xml.Name `xml:"xml"`
		ToUserName cdata    `xml:"ToUserName"`
		Encrypt    cdata    `xml:"Encrypt"`
	}{ToUserName: cdata{c.receiveID}, Encrypt: cdata{encrypt}})
	if err != nil {
		return nil, "", fmt.Errorf("callback: marshal envelope: %w", err)
	}
	return body, Signature(c.token, timestamp, nonce, encrypt), nil
}

// SealReply encrypts plaintext into the body of a passive reply, the format
// path/91144 specifies for answering a callback:
//
//	<xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>
//
// Open accepts the result with the MsgSignature it contains.
func (c *Crypto) SealReply(plaintext []byte, timestamp, nonce string) ([]byte, error) {
	encrypt, err := c.encrypt(plaintext)
	if err != nil {
		return nil, err
	}
	body, err := xml.Marshal(struct {
		XMLName      xml.Name `xml:"xml"`
		Encrypt      cdata    `xml:"Encrypt"`
		MsgSignature cdata    `xml:"MsgSignature"`
		TimeStamp    string   `xml:"TimeStamp"`
		Nonce        cdata    `xml:"Nonce"`
	}{
		Encrypt:      cdata{encrypt},
		MsgSignature: cdata{Signature(c.token, timestamp, nonce, encrypt)},
		TimeStamp:    timestamp,
		Nonce:        cdata{nonce},
	})
	if err != nil {
		return nil, fmt.Errorf("callback: marshal reply: %w", err)
	}
	return body, nil
}

// describeXMLError says what is wrong with an XML document without quoting
// it: decrypted XML is customer data, and even element names are left out.
func describeXMLError(err error) string {
	var syntax *xml.SyntaxError
	var num *strconv.NumError
	switch {
	case errors.Is(err, io.EOF):
		return "empty document"
	case errors.As(err, &syntax):
		return fmt.Sprintf("XML syntax error on line %d", syntax.Line)
	case errors.As(err, &num):
		return "a numeric element does not hold an integer"
	default:
		return "not an <xml> document of the expected shape"
	}
}
