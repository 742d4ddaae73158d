package email

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// sink is a real SMTP server (go-smtp) that keeps what it receives. Its
// behaviour per recipient can be set: a reply to RCPT, or dropping the
// connection once the message is received (before answering).
type sink struct {
	addr  string
	mu    sync.Mutex
	msgs  []received
	conns sync.Map                   // *smtp.Conn → true: the connections opened
	rcpt  map[string]*smtp.SMTPError // recipient → reply to RCPT
	drop  map[string]bool            // recipient → close after DATA
	keep  bool                       // keep message bytes (off in benchmarks)
	count atomic.Int64
}

type received struct {
	from, to string
	data     []byte
	tls      bool
}

type session struct {
	s    *sink
	conn *smtp.Conn
	from string
	to   string
}

func (s *session) AuthMechanisms() []string { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.s.mu.Lock()
	e := s.s.rcpt[to]
	s.s.mu.Unlock()
	if e != nil {
		return e
	}
	s.to = to
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.s.count.Add(1)
	_, isTLS := s.conn.TLSConnectionState()
	s.s.mu.Lock()
	if s.s.keep {
		s.s.msgs = append(s.s.msgs, received{from: s.from, to: s.to, data: b, tls: isTLS})
	}
	drop := s.s.drop[s.to]
	s.s.mu.Unlock()
	if drop {
		s.conn.Conn().Close()
		return errors.New("dropped")
	}
	return nil
}
func (s *session) Reset()        { s.from, s.to = "", "" }
func (s *session) Logout() error { return nil }

// startSink starts a sink on a loopback port; mode is NoTLS, StartTLS or
// Implicit. It returns the sink and the client TLS config that trusts it.
func startSink(tb testing.TB, mode string) (*sink, *tls.Config) {
	tb.Helper()
	s := &sink{rcpt: map[string]*smtp.SMTPError{}, drop: map[string]bool{}, keep: true}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.conns.Store(c, true)
		return &session{s: s, conn: c}, nil
	}))
	srv.Domain = "sink.test"
	srv.MaxRecipients = 10
	srv.MaxMessageBytes = 1 << 20
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.ErrorLog = nopLogger{}
	var clientTLS *tls.Config
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	if mode != NoTLS {
		cert, pool := selfSigned(tb)
		serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}}
		clientTLS = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
		if mode == Implicit {
			ln = tls.NewListener(ln, serverTLS)
		} else {
			srv.TLSConfig = serverTLS
		}
	}
	s.addr = ln.Addr().String()
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return s, clientTLS
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}

// connections returns how many connections clients opened.
func (s *sink) connections() int {
	n := 0
	s.conns.Range(func(any, any) bool { n++; return true })
	return n
}

func (s *sink) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

func (s *sink) to(addr string) []received {
	var out []received
	for _, m := range s.messages() {
		if m.to == addr {
			out = append(out, m)
		}
	}
	return out
}

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(tb testing.TB) (tls.Certificate, *x509.CertPool) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sink.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// header returns the unfolded value of the first header field name in a
// raw message.
func header(raw []byte, name string) string {
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	lines := strings.Split(string(head), "\r\n")
	for i := 0; i < len(lines); i++ {
		n, v, ok := strings.Cut(lines[i], ":")
		if !ok || !strings.EqualFold(n, name) {
			continue
		}
		for i+1 < len(lines) && (strings.HasPrefix(lines[i+1], " ") || strings.HasPrefix(lines[i+1], "\t")) {
			i++
			v += lines[i]
		}
		return strings.TrimSpace(v)
	}
	return ""
}
