package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SMTPSink is a minimal SMTP server that accepts every message and
// discards it, counting messages and bytes: what `kith bench campaign`
// sends e-mail to when no --smtp is given. It speaks just enough of
// RFC 5321 for a client that pipelines (RFC 2920): EHLO/HELO, MAIL, RCPT,
// DATA, BDAT (RFC 3030 CHUNKING), RSET, NOOP and QUIT, no TLS and no
// authentication. Replies are
// buffered and written when the client has nothing more in flight, so a
// pipelined MAIL, RCPT and DATA cost one write.
type SMTPSink struct {
	ln       net.Listener
	messages atomic.Int64
	bytes    atomic.Int64
	first    atomic.Int64 // unix ns of the first message accepted
	last     atomic.Int64 // unix ns of the last one
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
}

// maxSinkMessage bounds one message the sink reads.
const maxSinkMessage = 10 << 20

// StartSMTPSink listens on a loopback port and serves until Close.
func StartSMTPSink() (*SMTPSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &SMTPSink{ln: ln, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// Addr is the sink's host:port.
func (s *SMTPSink) Addr() string { return s.ln.Addr().String() }

// Messages is how many messages the sink accepted.
func (s *SMTPSink) Messages() int64 { return s.messages.Load() }

// Bytes is the size of the messages accepted (as transmitted, dot-stuffed).
func (s *SMTPSink) Bytes() int64 { return s.bytes.Load() }

// Span is the time from the first message accepted to the last.
func (s *SMTPSink) Span() time.Duration { return time.Duration(s.last.Load() - s.first.Load()) }

// Close stops the sink and closes its connections.
func (s *SMTPSink) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *SMTPSink) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.session(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

var errSinkLine = errors.New("smtp sink: line too long")

// session serves one connection.
func (s *SMTPSink) session(c net.Conn) {
	r := bufio.NewReaderSize(c, 64<<10)
	w := bufio.NewWriterSize(c, 4<<10)
	reply := func(line string) bool {
		w.WriteString(line)
		w.WriteString("\r\n")
		if r.Buffered() > 0 {
			return true // more commands in flight: answer them together
		}
		return w.Flush() == nil
	}
	if !reply("220 sink.bench ESMTP") {
		return
	}
	var chunk int64 // the size of the BDAT chunks of the message so far
	for {
		line, err := readLine(r)
		if err != nil {
			return
		}
		switch verb(line) {
		case "EHLO":
			if !reply("250-sink.bench\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-8BITMIME\r\n250 SIZE 10485760") {
				return
			}
		case "HELO":
			if !reply("250 sink.bench") {
				return
			}
		case "MAIL", "RCPT", "RSET", "NOOP":
			if !reply("250 OK") {
				return
			}
		case "DATA":
			if !reply("354 go ahead") {
				return
			}
			n, err := readData(r)
			if err != nil {
				return
			}
			now := time.Now().UnixNano()
			s.first.CompareAndSwap(0, now)
			s.last.Store(now)
			s.messages.Add(1)
			s.bytes.Add(int64(n))
			if !reply("250 accepted") {
				return
			}
		case "BDAT":
			n, last, ok := bdatArgs(line)
			if !ok {
				if !reply("501 BDAT <size> [LAST]") {
					return
				}
				continue
			}
			chunk += n
			if chunk > maxSinkMessage {
				return
			}
			if _, err := io.CopyN(io.Discard, r, n); err != nil {
				return
			}
			if !last {
				if !reply("250 chunk") {
					return
				}
				continue
			}
			now := time.Now().UnixNano()
			s.first.CompareAndSwap(0, now)
			s.last.Store(now)
			s.messages.Add(1)
			s.bytes.Add(chunk)
			chunk = 0
			if !reply("250 accepted") {
				return
			}
		case "QUIT":
			reply("221 bye")
			w.Flush()
			return
		default:
			if !reply("502 not implemented") {
				return
			}
		}
	}
}

// readLine reads one CRLF-ended line, without its end.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, errSinkLine
	}
	if err != nil {
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}

// bdatArgs reads "BDAT <size> [LAST]".
func bdatArgs(line []byte) (size int64, last, ok bool) {
	f := strings.Fields(string(line))
	if len(f) < 2 || len(f) > 3 || (len(f) == 3 && !strings.EqualFold(f[2], "LAST")) {
		return 0, false, false
	}
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || n < 0 {
		return 0, false, false
	}
	return n, len(f) == 3, true
}

// verb is a command's verb, upper case.
func verb(line []byte) string {
	if len(line) < 4 {
		return ""
	}
	return string(bytes.ToUpper(line[:4]))
}

// readData reads a message up to its lone dot, and returns its size.
func readData(r *bufio.Reader) (int, error) {
	n := 0
	for {
		line, err := r.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return n, err
		}
		full := err == nil
		if full && (bytes.Equal(line, []byte(".\r\n")) || bytes.Equal(line, []byte(".\n"))) {
			return n, nil
		}
		n += len(line)
		if n > maxSinkMessage {
			return n, errSinkLine
		}
		// A line longer than the buffer arrives in pieces; only a piece
		// that starts a line can be the lone dot, and a piece that ends
		// one is followed by the start of the next.
		for !full {
			line, err = r.ReadSlice('\n')
			if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
				return n, err
			}
			full = err == nil
			n += len(line)
		}
	}
}

// ServeSMTPSink runs a sink for a parent process (`kith bench smtpsink`,
// which `kith bench campaign` starts so that the sink's CPU is not counted
// as Kith's): it writes its address on one line of out, serves until in
// ends (the parent closes it), then writes "messages bytes" on one line.
func ServeSMTPSink(in io.Reader, out io.Writer) error {
	s, err := StartSMTPSink()
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(out, s.Addr()); err != nil {
		s.Close()
		return err
	}
	io.Copy(io.Discard, in)
	s.Close()
	_, err = fmt.Fprintf(out, "%d %d\n", s.Messages(), s.Bytes())
	return err
}

// childSink is a sink in a child process (ServeSMTPSink).
type childSink struct {
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	stdout   *bufio.Reader
	addr     string
	messages int64
	bytes    int64
	cpu      time.Duration
	stopped  bool
}

// startChildSink runs argv (a command that calls ServeSMTPSink) and reads
// the sink's address.
func startChildSink(argv []string) (*childSink, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start the smtp sink: %w", err)
	}
	c := &childSink{cmd: cmd, stdin: stdin, stdout: bufio.NewReader(stdout)}
	line, err := c.stdout.ReadString('\n')
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("bench: the smtp sink did not start: %w", err)
	}
	c.addr = strings.TrimSpace(line)
	if _, _, err := net.SplitHostPort(c.addr); err != nil {
		c.stop()
		return nil, fmt.Errorf("bench: the smtp sink said %q, not its address", c.addr)
	}
	return c, nil
}

// stop ends the child and reads what it counted and the CPU it used.
func (c *childSink) stop() error {
	if c.stopped {
		return nil
	}
	c.stopped = true
	c.stdin.Close()
	line, rerr := c.stdout.ReadString('\n')
	werr := c.cmd.Wait()
	if c.cmd.ProcessState != nil {
		c.cpu = c.cmd.ProcessState.UserTime() + c.cmd.ProcessState.SystemTime()
	}
	if rerr != nil {
		return fmt.Errorf("bench: the smtp sink's counts: %w (%v)", rerr, werr)
	}
	if _, err := fmt.Sscan(line, &c.messages, &c.bytes); err != nil {
		return fmt.Errorf("bench: the smtp sink's counts %q: %w", line, err)
	}
	return werr
}
