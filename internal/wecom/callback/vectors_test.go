package callback

import "testing"

// The official example of path/91144 (举例说明), as recorded and checked in
// wecom.md §2.1.
const (
	vecCorpID = "wx5823bf96d3bd56c7"
	vecToken  = "QDG6eK"
	vecKey    = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"

	// Vector A: URL verification.
	vecASignature = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
	vecATimestamp = "1409659589"
	vecANonce     = "263014780"
	vecAEchostr   = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
	vecARandom    = "c41b64491c2468d0"
	vecAMsg       = "1616140317555161061"

	// Vector B: event POST.
	vecBSignature = "477715d11cdb4164915debcba66cb864d751f3e6"
	vecBTimestamp = "1409659813"
	vecBNonce     = "1372623149"
	vecBEncrypt   = "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
	vecBRandom    = "0960688932c47ef1"
	// The elements are separated by real newlines (0x0A).
	vecBMsg = "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n" +
		"<FromUserName><![CDATA[mycreate]]></FromUserName>\n" +
		"<CreateTime>1409659813</CreateTime>\n" +
		"<MsgType><![CDATA[text]]></MsgType>\n" +
		"<Content><![CDATA[hello]]></Content>\n" +
		"<MsgId>4561255354251345929</MsgId>\n" +
		"<AgentID>218</AgentID>\n" +
		"</xml>"
)

// vecBBody wraps vector B's Encrypt in the envelope WeCom posts.
var vecBBody = []byte("<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>" +
	"<Encrypt><![CDATA[" + vecBEncrypt + "]]></Encrypt>" +
	"<AgentID><![CDATA[218]]></AgentID></xml>")

// MustCrypto returns a Crypto or stops the test.
func MustCrypto(tb testing.TB, token, key, receiveID string) *Crypto {
	tb.Helper()
	c, err := NewCrypto(token, key, receiveID)
	if err != nil {
		tb.Fatalf("NewCrypto: %v", err)
	}
	return c
}

// vectorCrypto returns a Crypto for the official example.
func vectorCrypto(tb testing.TB) *Crypto {
	tb.Helper()
	return MustCrypto(tb, vecToken, vecKey, vecCorpID)
}
