// Package callback implements WeCom's callback protocol: the URL check WeCom
// makes when a callback URL is saved (GET with echostr), the encrypted event
// deliveries that follow (POST with an XML envelope), and the parsing of the
// decrypted event XML.
//
// The algorithm is WXBizMsgCrypt as specified in the official 加解密方案说明
// (https://developer.work.weixin.qq.com/document/path/91144):
//
//   - msg_signature = hex(SHA1(sorted(token, timestamp, nonce, encrypt) joined)).
//   - AESKey = Base64(EncodingAESKey + "="), 32 bytes; AES-256-CBC with
//     IV = AESKey[:16]; PKCS#7 padding to a multiple of 32 bytes (not 16).
//   - The plaintext is random(16) ‖ msg_len(4, big-endian) ‖ msg ‖ receive id,
//     where the receive id is the CorpID for a self-built app.
//
// Every message is checked before it is trusted: the signature (compared in
// constant time) before any decryption, then padding, the length field and
// the receive id. Each refusal wraps one of the sentinel errors (ErrSignature,
// ErrCiphertext, ErrReceiveID, ErrEnvelope, ErrTooLarge, ErrStale) so the web
// layer can tell them apart with errors.Is; no message ever contains a key, a
// token or decrypted text.
//
// The package is written from the specification and tested against the
// official test vectors rather than taken from an SDK: the Go SDK available to
// us (silenceper/wechat) decrypts external-contact callbacks without checking
// msg_signature at all (see the research notes, wecom.md §2 "SDK support").
//
// The package only turns bytes into verified plaintext and events. Answering
// WeCom within its 5-second limit, persisting the delivery before answering,
// de-duplicating retries (DedupeKey) and applying events belong to the caller.
package callback
