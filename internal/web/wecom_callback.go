package web

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/kith-scrm/kith/internal/ingest"
	"github.com/kith-scrm/kith/internal/kith"
	"github.com/kith-scrm/kith/internal/wecom/callback"
)

// callbackMaxSkew is how far a callback's timestamp may be from the server's
// clock; WeCom retries within seconds, so a larger gap means a replay or a
// badly set clock.
const callbackMaxSkew = 15 * time.Minute

// refuseCallback answers a refused callback with a 4xx and logs why, without
// any secret or decrypted text.
func (s *Server) refuseCallback(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, callback.ErrSignature), errors.Is(err, callback.ErrReceiveID):
		status = http.StatusForbidden
	case errors.Is(err, callback.ErrTooLarge):
		status = http.StatusRequestEntityTooLarge
	case kith.ErrorCode(err) == kith.EUNAVAILABLE:
		status = http.StatusServiceUnavailable
	}
	s.Log.Warn("wecom callback refused", "method", r.Method, "ip", clientIP(r), "status", status, "reason", err.Error())
	http.Error(w, http.StatusText(status), status)
}

// callbackCrypto returns the configured crypto and the query of a callback
// whose timestamp is fresh, or answers the refusal and returns nil.
func (s *Server) callbackCrypto(w http.ResponseWriter, r *http.Request) (*callback.Crypto, url.Values) {
	c, err := s.CallbackCrypto(r.Context())
	if err != nil {
		s.refuseCallback(w, r, err)
		return nil, nil
	}
	q := r.URL.Query()
	if err := callback.CheckTimestamp(q.Get("timestamp"), s.Clock.Now(), callbackMaxSkew); err != nil {
		s.refuseCallback(w, r, err)
		return nil, nil
	}
	return c, q
}

// wecomVerify answers WeCom's URL verification: the decrypted echostr.
func (s *Server) wecomVerify(w http.ResponseWriter, r *http.Request) {
	c, q := s.callbackCrypto(w, r)
	if c == nil {
		return
	}
	msg, err := c.VerifyURL(q.Get("msg_signature"), q.Get("timestamp"), q.Get("nonce"), q.Get("echostr"))
	if err != nil {
		s.refuseCallback(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(msg)
}

// wecomReceive takes an event delivery: verify and decrypt it, store it with
// the job that applies it, then answer 200. A retry of a stored event is
// answered and dropped. If storing fails the answer is 500, so WeCom tries
// again.
func (s *Server) wecomReceive(w http.ResponseWriter, r *http.Request) {
	body, err := callback.ReadBody(http.MaxBytesReader(w, r.Body, callback.MaxBody+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			err = callback.ErrTooLarge
		}
		s.refuseCallback(w, r, err)
		return
	}
	c, q := s.callbackCrypto(w, r)
	if c == nil {
		return
	}
	plain, err := c.Open(q.Get("msg_signature"), q.Get("timestamp"), q.Get("nonce"), body)
	if err != nil {
		s.refuseCallback(w, r, err)
		return
	}
	ev, err := callback.ParseEvent(plain)
	if err != nil {
		s.refuseCallback(w, r, err)
		return
	}
	_, dup, err := s.Ingest.Accept(r.Context(), ingest.Inbound{Source: "wecom", DedupeKey: callback.DedupeKey(ev.CreateTime, plain), Kind: ev.Kind(), Body: plain})
	if err != nil {
		s.Log.Error("wecom callback not stored; WeCom will retry", "kind", ev.Kind(), "err", err)
		http.Error(w, "not stored", http.StatusInternalServerError)
		return
	}
	if dup {
		s.Log.Debug("wecom callback retry dropped", "kind", ev.Kind())
	}
	w.WriteHeader(http.StatusOK)
}
