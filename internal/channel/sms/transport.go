package sms

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"

	"github.com/kith-scrm/kith/internal/channel"
	"github.com/kith-scrm/kith/internal/consent"
	"github.com/kith-scrm/kith/internal/gate"
)

// maxResponse bounds a provider's answer read into memory.
const maxResponse = 1 << 20

// post sends req and returns the body of the answer. When it fails, status
// says whether the request may have reached the provider: Retryable when it
// was never fully written (nothing can have been sent), Unknown when it was
// written and the answer was lost or is not one the provider gives (the
// numbers may have been sent to, so they must not be sent again here).
func post(client *http.Client, req *http.Request) (body []byte, httpStatus int, status channel.Status, err error) {
	wrote := false
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) { wrote = i.Err == nil }}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := client.Do(req)
	if err != nil {
		if wrote {
			return nil, 0, channel.Unknown, fmt.Errorf("sms: %s: the request was sent but no answer came: %w", req.URL.Host, err)
		}
		return nil, 0, channel.Retryable, fmt.Errorf("sms: %s: %w", req.URL.Host, err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, resp.StatusCode, channel.Unknown, fmt.Errorf("sms: %s: reading the answer: %w", req.URL.Host, err)
	}
	return body, resp.StatusCode, channel.Sent, nil
}

// all returns n copies of r with each permit's id.
func all(permits []gate.Permit, r channel.Result) []channel.Result {
	out := make([]channel.Result, len(permits))
	for i, p := range permits {
		out[i] = r
		out[i].Permit = p.ID()
	}
	return out
}

// claim checks the message and the permits, then consumes the permits. It
// returns the results of the refused permits (others zero) and the
// permits that may be sent to.
func claim(ctx context.Context, c *channel.Claimer, permits []gate.Permit, m Message) ([]channel.Result, []int, error) {
	if err := m.Validate(); err != nil {
		return nil, nil, err
	}
	for _, p := range permits {
		if p.Valid() && p.Channel() != consent.ChannelSMS {
			return nil, nil, fmt.Errorf("sms: permit %s is for channel %s, not sms", p.ID(), p.Channel())
		}
	}
	refusals, err := c.Claim(ctx, permits)
	if err != nil {
		return nil, nil, err
	}
	results := make([]channel.Result, len(permits))
	var ok []int
	for i, r := range refusals {
		if r != nil {
			results[i] = channel.Refusal(permits[i], r)
			continue
		}
		ok = append(ok, i)
	}
	return results, ok, nil
}

// e164 returns a person's number in E.164: a mainland mobile (as consent
// stores it, 11 digits) gets +86; a number already with + is kept; any
// other is taken to start with its country code.
func e164(number string) string {
	switch {
	case strings.HasPrefix(number, "+"):
		return number
	case len(number) == 11 && number[0] == '1':
		return "+86" + number
	}
	return "+" + number
}

// mainland reports whether an E.164 number is a mainland China one.
func mainland(e164 string) bool { return strings.HasPrefix(e164, "+86") }

var errNoAnswer = errors.New("sms: the provider's answer did not name this number")
