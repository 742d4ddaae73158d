package email

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/kith-scrm/kith/internal/channel"
	"github.com/kith-scrm/kith/internal/kith"
)

// TLS modes of an SMTP connection.
const (
	StartTLS = "starttls" // plain connection upgraded with STARTTLS, required (port 587 or 25)
	Implicit = "tls"      // TLS from the first byte (port 465)
	NoTLS    = "none"     // no TLS: only for a relay on the same host (and tests)
)

// SMTPConfig says how to reach the SMTP server.
type SMTPConfig struct {
	Addr     string // host:port
	TLS      string // StartTLS (default), Implicit or NoTLS
	Username string // AUTH PLAIN when set (only over TLS, or to localhost)
	Password string
	// Hello is the name given in EHLO (default "localhost").
	Hello string
	// TLSConfig, when set, replaces the default (verify the server's
	// certificate for Addr's host).
	TLSConfig *tls.Config
	// Conns is how many connections are kept open and used at once
	// (default 4).
	Conns int
	// PerConn is how many messages one connection carries before it is
	// closed and dialled again (default 1,000; servers cap it).
	PerConn int
	// Timeout bounds one message's exchange with the server (default 30 s).
	Timeout time.Duration
}

func (c *SMTPConfig) defaults() error {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil || host == "" {
		return kith.Errorf(kith.EINVALID, "email: smtp address %q must be host:port", c.Addr)
	}
	switch c.TLS {
	case "":
		c.TLS = StartTLS
	case StartTLS, Implicit, NoTLS:
	default:
		return kith.Errorf(kith.EINVALID, "email: smtp tls %q: use starttls, tls or none", c.TLS)
	}
	if c.TLSConfig == nil {
		c.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	if c.Hello == "" {
		c.Hello = "localhost"
	}
	if c.Conns <= 0 {
		c.Conns = 4
	}
	if c.PerConn <= 0 {
		c.PerConn = 1000
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	return nil
}

// conn is one SMTP connection.
type conn struct {
	raw        net.Conn
	client     *smtp.Client
	sent       int
	pipelining bool   // the server offers PIPELINING (RFC 2920)
	chunking   bool   // and CHUNKING (BDAT, RFC 3030)
	wire       []byte // the message being written, dot-stuffed (reused)
	msg        []byte // the message of a BDAT (reused)
}

func (c *conn) close() {
	if c == nil {
		return
	}
	c.client.Close()
}

// dial opens and greets a connection, with TLS and AUTH as configured.
func dial(ctx context.Context, cfg *SMTPConfig) (*conn, error) {
	d := net.Dialer{Timeout: cfg.Timeout}
	var raw net.Conn
	var err error
	if cfg.TLS == Implicit {
		raw, err = (&tls.Dialer{NetDialer: &d, Config: cfg.TLSConfig}).DialContext(ctx, "tcp", cfg.Addr)
	} else {
		raw, err = d.DialContext(ctx, "tcp", cfg.Addr)
	}
	if err != nil {
		return nil, fmt.Errorf("email: smtp %s: %w", cfg.Addr, err)
	}
	raw.SetDeadline(time.Now().Add(cfg.Timeout))
	host, _, _ := net.SplitHostPort(cfg.Addr)
	client, err := smtp.NewClient(raw, host)
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("email: smtp %s: greeting: %w", cfg.Addr, err)
	}
	c := &conn{raw: raw, client: client}
	if err := client.Hello(cfg.Hello); err != nil {
		c.close()
		return nil, fmt.Errorf("email: smtp %s: EHLO: %w", cfg.Addr, err)
	}
	if cfg.TLS == StartTLS {
		if ok, _ := client.Extension("STARTTLS"); !ok {
			c.close()
			return nil, fmt.Errorf("email: smtp %s does not offer STARTTLS; refusing to send in the clear (set tls to \"tls\" for port 465)", cfg.Addr)
		}
		if err := client.StartTLS(cfg.TLSConfig); err != nil {
			c.close()
			return nil, fmt.Errorf("email: smtp %s: STARTTLS: %w", cfg.Addr, err)
		}
	}
	if cfg.Username != "" {
		if err := client.Auth(smtp.PlainAuth("", cfg.Username, cfg.Password, host)); err != nil {
			c.close()
			return nil, fmt.Errorf("email: smtp %s: AUTH: %w", cfg.Addr, err)
		}
	}
	c.pipelining, _ = client.Extension("PIPELINING")
	c.chunking, _ = client.Extension("CHUNKING")
	return c, nil
}

// stage says how far an exchange got when it failed.
type stage int

const (
	beforeData stage = iota // MAIL, RCPT or DATA: the server holds no message
	inData                  // writing the message: without the final dot the server drops it
	afterData               // the message was handed over; only the reply is missing
)

// outcome classifies an SMTP exchange's error: a reply code 4xx is
// Retryable and 5xx Failed; a connection error is Retryable before the
// message was handed over and Unknown after (the server may have taken
// it: it must not be sent again). broken says the connection is unusable.
func outcome(err error, at stage) (r channel.Result, broken bool) {
	var tp *textproto.Error
	if errors.As(err, &tp) {
		r = channel.Result{Code: strconv.Itoa(tp.Code), Message: tp.Msg}
		switch {
		case tp.Code >= 400 && tp.Code < 500:
			r.Status = channel.Retryable
		case tp.Code >= 500 && tp.Code < 600:
			r.Status = channel.Failed
		default:
			r.Status = channel.Unknown
			if at != afterData {
				r.Status = channel.Retryable
			}
			return r, true // an unexpected reply: the dialogue is lost
		}
		// 421 closes the connection; other replies leave it usable.
		return r, tp.Code == 421
	}
	r = channel.Result{Status: channel.Retryable, Message: err.Error()}
	if at == afterData {
		r.Status = channel.Unknown
		r.Message = "the connection failed after the message was handed over; it may have been delivered: " + err.Error()
	}
	return r, true
}

// exchange sends one message on c: MAIL, RCPT, DATA, the bytes, the dot.
func exchange(c *conn, deadline time.Time, from, to string, r *rendered) (channel.Result, bool) {
	c.raw.SetDeadline(deadline)
	if c.pipelining && c.chunking {
		// One write carries the whole message, so a failure after it
		// cannot tell a connection the server closed while idle (nothing
		// delivered: worth one more try) from one that failed after
		// taking the message: look before writing.
		if c.sent > 0 && closedByServer(c) {
			return channel.Result{Status: channel.Retryable, Message: "the server closed the connection while it was idle"}, true
		}
		return chunked(c, from, to, r)
	}
	if c.pipelining {
		return pipelined(c, from, to, r)
	}
	if err := c.client.Mail(from); err != nil {
		return outcome(err, beforeData)
	}
	if err := c.client.Rcpt(to); err != nil {
		res, broken := outcome(err, beforeData)
		if !broken && c.client.Reset() != nil {
			broken = true
		}
		return res, broken
	}
	w, err := c.client.Data()
	if err != nil {
		res, broken := outcome(err, beforeData)
		if !broken && c.client.Reset() != nil {
			broken = true
		}
		return res, broken
	}
	return data(c, w, r, func() error { return w.Close() })
}

// data writes the message and the final dot, and reads the reply.
func data(c *conn, w io.Writer, r *rendered, end func() error) (channel.Result, bool) {
	if _, err := w.Write(r.head.Bytes()); err != nil {
		return outcome(err, inData)
	}
	if _, err := w.Write(r.body.Bytes()); err != nil {
		return outcome(err, inData)
	}
	if err := end(); err != nil {
		return outcome(err, afterData)
	}
	c.sent++
	return channel.Result{Status: channel.Sent, Code: "250"}, false
}

// pipelined sends MAIL, RCPT and DATA in one write (RFC 2920) and reads
// their three replies, then the message: two writes and two waits per
// message instead of four of each.
func pipelined(c *conn, from, to string, r *rendered) (channel.Result, bool) {
	t := c.client.Text
	if strings.ContainsAny(from+to, "\r\n<>") {
		return channel.Result{Status: channel.Failed, Message: "email: an address holds a line break or angle bracket"}, false
	}
	t.W.WriteString("MAIL FROM:<" + from + ">\r\nRCPT TO:<" + to + ">\r\nDATA\r\n")
	if err := t.W.Flush(); err != nil {
		return outcome(err, beforeData)
	}
	var first error // the first refusal, which the result reports
	for _, want := range []int{250, 25, 354} {
		_, _, err := t.ReadResponse(want)
		var tp *textproto.Error
		if err != nil && !errors.As(err, &tp) {
			return outcome(err, beforeData) // the connection failed
		}
		if err != nil && first == nil {
			first = err
		}
		if want == 354 && err == nil && first != nil {
			// The server opened DATA though MAIL or RCPT was refused:
			// closing the connection is the only way to send nothing.
			res, _ := outcome(first, beforeData)
			return res, true
		}
	}
	if first != nil {
		res, broken := outcome(first, beforeData)
		if !broken && c.client.Reset() != nil {
			broken = true
		}
		return res, broken
	}
	// The message as the DATA dialogue carries it, dot-stuffed here in
	// bulk rather than byte by byte through a textproto.DotWriter.
	c.wire = appendDotStuffed(appendDotStuffed(c.wire[:0], r.head.Bytes()), r.body.Bytes())
	if n := len(c.wire); n > 0 && (n < 2 || c.wire[n-2] != '\r' || c.wire[n-1] != '\n') {
		c.wire = append(c.wire, '\r', '\n')
	}
	c.wire = append(c.wire, ".\r\n"...)
	if _, err := t.W.Write(c.wire); err != nil {
		return outcome(err, inData)
	}
	if err := t.W.Flush(); err != nil {
		return outcome(err, afterData)
	}
	if _, _, err := t.ReadResponse(250); err != nil {
		return outcome(err, afterData)
	}
	c.sent++
	return channel.Result{Status: channel.Sent, Code: "250"}, false
}

// chunked sends MAIL, RCPT and BDAT with the whole message (RFC 3030,
// pipelined as RFC 2920 allows BDAT to be) in one write and reads their
// three replies: one write and one wait per message, and no dot-stuffing.
// A server that refuses MAIL or RCPT refuses the BDAT too and discards its
// chunk (the size says where it ends), so nothing is delivered; the
// transaction is then reset. Once the write went out, a connection that
// fails may have delivered the message: Unknown, never sent again.
func chunked(c *conn, from, to string, r *rendered) (channel.Result, bool) {
	t := c.client.Text
	if strings.ContainsAny(from+to, "\r\n<>") {
		return channel.Result{Status: channel.Failed, Message: "email: an address holds a line break or angle bracket"}, false
	}
	// The message first, with every line ended by CRLF, to know its size.
	msg := appendLines(appendLines(c.msg[:0], r.head.Bytes(), false), r.body.Bytes(), false)
	if n := len(msg); n > 0 && (n < 2 || msg[n-2] != '\r' || msg[n-1] != '\n') {
		msg = append(msg, '\r', '\n')
	}
	c.msg = msg
	w := append(c.wire[:0], "MAIL FROM:<"...)
	w = append(w, from...)
	w = append(w, ">\r\nRCPT TO:<"...)
	w = append(w, to...)
	w = append(w, ">\r\nBDAT "...)
	w = strconv.AppendInt(w, int64(len(msg)), 10)
	w = append(w, " LAST\r\n"...)
	w = append(w, msg...)
	c.wire = w
	if _, err := t.W.Write(w); err != nil {
		// Not all of it went out: the chunk is incomplete, and a server
		// delivers no message from an incomplete chunk.
		return outcome(err, inData)
	}
	if err := t.W.Flush(); err != nil {
		return outcome(err, afterData)
	}
	var first error                            // the first refusal, which the result reports
	for i, want := range []int{250, 25, 250} { // MAIL, RCPT, BDAT
		_, _, err := t.ReadResponse(want)
		var tp *textproto.Error
		if err != nil && !errors.As(err, &tp) {
			if first != nil {
				// MAIL or RCPT was refused (a 421 closes the connection):
				// no message was taken.
				res, _ := outcome(first, beforeData)
				return res, true
			}
			return outcome(err, afterData) // the connection failed after the write
		}
		if err != nil && first == nil {
			first = err
		}
		if i == 2 && err == nil && first != nil {
			// The server took the message though MAIL or RCPT was
			// refused: whether it delivers it is unknown, and the
			// connection is not trusted again.
			return channel.Result{Status: channel.Unknown, Message: "the server accepted the message after refusing its envelope: " + first.Error()}, true
		}
	}
	if first != nil {
		res, broken := outcome(first, beforeData)
		if !broken && c.client.Reset() != nil {
			broken = true
		}
		return res, broken
	}
	c.sent++
	return channel.Result{Status: channel.Sent, Code: "250"}, false
}

// appendLines appends src with every line ended by CRLF (a bare LF becomes
// CRLF) and, when stuff is set, a dot doubled at the start of a line.
func appendLines(dst, src []byte, stuff bool) []byte {
	bol := len(dst) == 0 || dst[len(dst)-1] == '\n'
	for len(src) > 0 {
		if stuff && bol && src[0] == '.' {
			dst = append(dst, '.')
		}
		i := bytes.IndexByte(src, '\n')
		if i < 0 {
			return append(dst, src...)
		}
		if i > 0 && src[i-1] == '\r' {
			dst = append(dst, src[:i+1]...)
		} else {
			dst = append(dst, src[:i]...)
			dst = append(dst, '\r', '\n')
		}
		src = src[i+1:]
		bol = true
	}
	return dst
}

// appendDotStuffed appends src as the DATA dialogue carries it (RFC 5321
// §4.5.2), as textproto.DotWriter writes it: every line ends with CRLF (a
// bare LF becomes CRLF) and a line that starts with a dot gets another.
func appendDotStuffed(dst, src []byte) []byte { return appendLines(dst, src, true) }
