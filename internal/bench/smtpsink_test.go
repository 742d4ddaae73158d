package bench

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The sink takes a message by DATA and one by BDAT (pipelined, in one
// write), and counts both.
func TestSMTPSinkDataAndBDAT(t *testing.T) {
	s, err := StartSMTPSink()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	expect := func(prefix string) {
		t.Helper()
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("waiting for %q: %v", prefix, err)
			}
			if !strings.HasPrefix(line, prefix) {
				t.Fatalf("got %q, want %q", line, prefix)
			}
			if len(line) < 4 || line[3] != '-' {
				return
			}
		}
	}
	expect("220")
	c.Write([]byte("EHLO me\r\n"))
	expect("250")
	c.Write([]byte("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n"))
	expect("250")
	expect("250")
	expect("354")
	c.Write([]byte("Subject: one\r\n\r\n..dot\r\n.\r\n"))
	expect("250")
	msg := "Subject: two\r\n\r\n.dot, not stuffed\r\n"
	c.Write([]byte("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nBDAT " + strconv.Itoa(len(msg)) + " LAST\r\n" + msg + "NOOP\r\n"))
	expect("250")
	expect("250")
	expect("250 accepted")
	expect("250") // NOOP: the chunk ended where its size said
	if s.Messages() != 2 || s.Bytes() != int64(len("Subject: one\r\n\r\n..dot\r\n")+len(msg)) {
		t.Errorf("%d messages, %d bytes", s.Messages(), s.Bytes())
	}
}
