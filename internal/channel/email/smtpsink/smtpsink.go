// Package smtpsink is a local SMTP server (go-smtp) that accepts every
// message and keeps the latest ones in memory: `serve --sandbox` sends its
// e-mail campaigns there, so a demo runs end to end without the internet,
// and tests read what a running Kith sent.
package smtpsink

import (
	"errors"
	"io"
	"log"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Keep is how many messages a Sink keeps (the oldest go first).
const Keep = 1000

// MaxMessageBytes bounds one message.
const MaxMessageBytes = 4 << 20

// Message is one message received.
type Message struct {
	From string
	To   []string
	Data []byte
	At   time.Time
}

// Sink is a running SMTP server on a loopback address.
type Sink struct {
	srv  *smtp.Server
	ln   net.Listener
	mu   sync.Mutex
	msgs []Message
	n    int
}

// Start listens on addr ("127.0.0.1:0" for any port) and serves until
// Close.
func Start(addr string) (*Sink, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Sink{ln: ln}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	s.srv.Domain = "sink.kith.localhost"
	s.srv.MaxRecipients = 100
	s.srv.MaxMessageBytes = MaxMessageBytes
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	go s.srv.Serve(ln)
	return s, nil
}

// Addr is the host:port the sink listens on.
func (s *Sink) Addr() string { return s.ln.Addr().String() }

// Close stops the server.
func (s *Sink) Close() error { return s.srv.Close() }

// Messages returns the messages kept, oldest first.
func (s *Sink) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Count is how many messages were received since the start.
func (s *Sink) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

type session struct {
	s    *Sink
	from string
	to   []string
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	if len(x.to) == 0 {
		return errors.New("smtpsink: no recipient")
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	x.s.n++
	x.s.msgs = append(x.s.msgs, Message{From: x.from, To: x.to, Data: b, At: time.Now()})
	if len(x.s.msgs) > Keep {
		x.s.msgs = append([]Message(nil), x.s.msgs[len(x.s.msgs)-Keep:]...)
	}
	x.s.mu.Unlock()
	return nil
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }
