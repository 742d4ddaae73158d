package wecomtest

import (
	"crypto/rand"
	"encoding/base64"
	"time"
)

// apiGetToken is GET /cgi-bin/gettoken?corpid=&corpsecret= (path/91039).
// Within the token's validity it hands out the same token again; after
// expiry a new one.
func (s *Sandbox) apiGetToken(c *apiCall) (any, *apiError) {
	corpID, secret := c.query["corpid"], c.query["corpsecret"]
	switch {
	case corpID == "":
		return nil, errf(CodeCorpIDMissing, "corpid missing")
	case corpID != s.opt.CorpID:
		return nil, errf(CodeInvalidCorpID, "invalid corpid")
	case secret == "":
		return nil, errf(CodeSecretMissing, "corpsecret missing")
	case secret != s.opt.Secret:
		return nil, errf(CodeInvalidSecret, "invalid credential, corpsecret does not match the corpid")
	}
	tok, left := s.issueToken()
	return success(okFields{"access_token": tok, "expires_in": int64(left.Round(time.Second) / time.Second)}), nil
}

// issueToken returns the token in force, making a new one when there is
// none or it expired, and how long it has left. s.mu must be held.
func (s *Sandbox) issueToken() (string, time.Duration) {
	now := s.now()
	if exp, ok := s.tokens[s.token]; !ok || !now.Before(exp) {
		s.token = newToken()
		s.tokens[s.token] = now.Add(s.opt.TokenTTL)
	}
	return s.token, s.tokens[s.token].Sub(now)
}

// checkToken answers 41001 for a missing token, 40014 for one it never
// issued (or revoked) and 42001 for an expired one.
func (s *Sandbox) checkToken(tok string) *apiError {
	if tok == "" {
		return errf(CodeTokenMissing, "access_token missing")
	}
	exp, ok := s.tokens[tok]
	if !ok {
		return errf(CodeInvalidToken, "invalid access_token")
	}
	if !s.now().Before(exp) {
		return errf(CodeTokenExpired, "access_token expired")
	}
	return nil
}

// RevokeTokens invalidates every issued token at once, as WeCom may do
// "for operational reasons" (path/91039); later calls with them get 40014.
func (s *Sandbox) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = map[string]time.Time{}
	s.token = ""
}

// newToken returns an unguessable token. Real tokens are up to 512 bytes;
// these are 86 characters.
func newToken() string {
	b := make([]byte, 64)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}
