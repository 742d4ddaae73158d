package email

import (
	"bufio"
	"bytes"
	"net/textproto"
	"testing"
)

// TestDotStuffedAsDotWriter: appendDotStuffed writes what
// textproto.DotWriter writes, the message parts given one after the other.
func TestDotStuffedAsDotWriter(t *testing.T) {
	cases := [][]string{
		{"Subject: x\r\n\r\n", "body\r\n"},
		{"A: b\r\n\r\n", ".starts with a dot\r\n..two\r\nmid . dot\r\n.\r\n"},
		{"A: b\r\n\r\n", "bare\nline feeds\n.dot after bare LF\n"},
		{"A: b\r\n\r\n", "no final line end"},
		{"A: b\r\n\r\n", ""},
		{".\r\n", ".x"},
	}
	for _, parts := range cases {
		var want bytes.Buffer
		bw := bufio.NewWriter(&want)
		w := textproto.NewWriter(bw).DotWriter()
		var got []byte
		for _, p := range parts {
			w.Write([]byte(p))
			got = appendDotStuffed(got, []byte(p))
		}
		w.Close()
		bw.Flush()
		if n := len(got); n > 0 && (n < 2 || got[n-2] != '\r' || got[n-1] != '\n') {
			got = append(got, '\r', '\n')
		}
		got = append(got, ".\r\n"...)
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("%q:\n got %q\nwant %q", parts, got, want.Bytes())
		}
	}
}
