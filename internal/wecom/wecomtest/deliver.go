package wecomtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// maxLog bounds the delivery log; older outcomes are dropped.
const maxLog = 10000

// Delivery is the outcome of sending one callback.
type Delivery struct {
	Seq        int64     `json:"seq"`         // the event's number, in the order events happened
	Event      Event     `json:"event"`       // what was sent
	Queued     bool      `json:"queued"`      // held because delivery is paused; not sent yet
	Delivered  bool      `json:"delivered"`   // answered with HTTP 200
	Attempts   int       `json:"attempts"`    // POSTs made, at most MaxDeliveries
	StatusCode int       `json:"status_code"` // the last HTTP status, 0 if none came
	Err        string    `json:"error"`       // why the last attempt failed; "" when delivered
	At         time.Time `json:"at"`          // when the last attempt ended
}

type pending struct {
	seq int64
	ev  Event
}

// send delivers an event now, or queues it while delivery is paused.
func (s *Sandbox) send(ctx context.Context, ev Event) Delivery {
	s.dmu.Lock()
	s.nextSeq++
	p := &pending{seq: s.nextSeq, ev: ev}
	if s.paused {
		s.queue = append(s.queue, p)
		s.dmu.Unlock()
		return Delivery{Seq: p.seq, Event: ev, Queued: true}
	}
	s.dmu.Unlock()
	return s.deliver(ctx, p)
}

// deliver POSTs one event like WeCom does: sealed with the callback Token
// and EncodingAESKey, signed in the query string, and sent again until HTTP
// 200 comes back or MaxDeliveries POSTs were made. Every attempt carries
// the same body. A failure is logged and kept for RedeliverFailed.
func (s *Sandbox) deliver(ctx context.Context, p *pending) Delivery {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	d := Delivery{Seq: p.seq, Event: p.ev}
	target, body, err := s.seal(p.ev)
	if err != nil {
		d.Err, d.At = err.Error(), s.now()
		s.record(d, p)
		return d
	}
	for d.Attempts < MaxDeliveries && !d.Delivered {
		if d.Attempts > 0 && s.opt.RetryDelay > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(s.opt.RetryDelay):
			}
		}
		if ctx.Err() != nil {
			d.Err = ctx.Err().Error()
			break
		}
		d.Attempts++
		d.StatusCode, err = s.post(ctx, target, body)
		d.At = s.now()
		switch {
		case err != nil:
			d.Err = err.Error()
		case d.StatusCode != http.StatusOK:
			d.Err = fmt.Sprintf("HTTP %d", d.StatusCode)
		default:
			d.Delivered, d.Err = true, ""
		}
	}
	s.record(d, p)
	return d
}

// seal encrypts the event and builds the URL with msg_signature, timestamp
// and nonce.
func (s *Sandbox) seal(ev Event) (target string, body []byte, err error) {
	s.dmu.Lock()
	dest, crypto := s.url, s.crypto
	nonce := strconv.FormatInt(1_000_000_000+s.nonceRng.Int64N(9_000_000_000), 10)
	s.dmu.Unlock()
	if crypto == nil {
		return "", nil, fmt.Errorf("wecomtest: no callback Token and EncodingAESKey configured")
	}
	if dest == "" {
		return "", nil, fmt.Errorf("wecomtest: no callback URL configured")
	}
	u, err := url.Parse(dest)
	if err != nil {
		return "", nil, fmt.Errorf("wecomtest: callback URL: %w", err)
	}
	ts := strconv.FormatInt(s.now().Unix(), 10)
	body, sig, err := crypto.Seal(ev.XML(), ts, nonce)
	if err != nil {
		return "", nil, fmt.Errorf("wecomtest: seal callback: %w", err)
	}
	q := u.Query()
	q.Set("msg_signature", sig)
	q.Set("timestamp", ts)
	q.Set("nonce", nonce)
	u.RawQuery = q.Encode()
	return u.String(), body, nil
}

func (s *Sandbox) post(ctx context.Context, target string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "text/xml")
	resp, err := s.opt.HTTPClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	return resp.StatusCode, nil
}

func (s *Sandbox) record(d Delivery, p *pending) {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	s.log = append(s.log, d)
	if len(s.log) > maxLog {
		s.log = slices.Delete(s.log, 0, len(s.log)-maxLog)
	}
	if !d.Delivered {
		s.failed = append(s.failed, p)
	}
}

// Deliveries returns the outcome of every delivery so far, oldest first
// (the last 10,000). Queued events appear once they are sent.
func (s *Sandbox) Deliveries() []Delivery {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	return slices.Clone(s.log)
}

// PauseDelivery holds callbacks in a queue instead of sending them, as if
// the receiver were down and WeCom kept the events; ResumeDelivery sends them.
func (s *Sandbox) PauseDelivery() {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	s.paused = true
}

// ResumeDelivery sends the queued callbacks in order and delivers later
// events at once again.
func (s *Sandbox) ResumeDelivery(ctx context.Context) []Delivery {
	s.dmu.Lock()
	s.paused = false
	queue := s.queue
	s.queue = nil
	s.dmu.Unlock()
	return s.deliverAll(ctx, queue)
}

// RedeliverFailed sends again, in order, every callback whose delivery
// failed, each with up to MaxDeliveries attempts.
func (s *Sandbox) RedeliverFailed(ctx context.Context) []Delivery {
	s.dmu.Lock()
	failed := s.failed
	s.failed = nil
	s.dmu.Unlock()
	return s.deliverAll(ctx, failed)
}

func (s *Sandbox) deliverAll(ctx context.Context, ps []*pending) []Delivery {
	out := make([]Delivery, 0, len(ps))
	for _, p := range ps {
		out = append(out, s.deliver(ctx, p))
	}
	return out
}

// DeliveryCounts tells how many callbacks are queued and how many failed and
// were not redelivered yet.
func (s *Sandbox) DeliveryCounts() (queued, failed int) {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	return len(s.queue), len(s.failed)
}

// verifyTimeout is how long WeCom waits for the answer to a URL check.
const verifyTimeout = time.Second

// VerifyCallbackURL checks the callback URL as WeCom does when an admin
// saves it (path/90968): a GET with msg_signature, timestamp, nonce and an
// encrypted echostr, which must be answered within a second with the
// decrypted text exactly, without quotes, BOM or newline.
func (s *Sandbox) VerifyCallbackURL(ctx context.Context) error {
	s.dmu.Lock()
	dest, crypto := s.url, s.crypto
	nonce := strconv.FormatInt(1_000_000_000+s.nonceRng.Int64N(9_000_000_000), 10)
	msg := strconv.FormatInt(s.nonceRng.Int64(), 10)
	s.dmu.Unlock()
	if crypto == nil || dest == "" {
		return fmt.Errorf("wecomtest: verify callback URL: no callback URL, Token and EncodingAESKey configured")
	}
	ts := strconv.FormatInt(s.now().Unix(), 10)
	echo, sig, err := crypto.EncryptEcho(msg, ts, nonce)
	if err != nil {
		return fmt.Errorf("wecomtest: verify callback URL: %w", err)
	}
	u, err := url.Parse(dest)
	if err != nil {
		return fmt.Errorf("wecomtest: verify callback URL: %w", err)
	}
	q := u.Query()
	q.Set("msg_signature", sig)
	q.Set("timestamp", ts)
	q.Set("nonce", nonce)
	q.Set("echostr", echo)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, verifyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("wecomtest: verify callback URL: %w", err)
	}
	resp, err := s.opt.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("wecomtest: verify callback URL: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if err != nil {
		return fmt.Errorf("wecomtest: verify callback URL: %w", err)
	}
	if resp.StatusCode != http.StatusOK || string(body) != msg {
		return fmt.Errorf("wecomtest: verify callback URL: answered HTTP %d %q, want HTTP 200 %q", resp.StatusCode, body, msg)
	}
	return nil
}
