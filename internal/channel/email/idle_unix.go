//go:build unix

package email

import (
	"crypto/tls"
	"syscall"
)

// closedByServer reports whether the server closed c, or said something
// unasked (a 421 before closing), while c was idle: a look at the socket
// (a peek that does not wait) finds data or the end of the stream. It
// costs one system call, not a round trip.
func closedByServer(c *conn) bool {
	if c.client.Text.R.Buffered() > 0 {
		return true
	}
	nc := c.raw
	if t, ok := nc.(*tls.Conn); ok {
		nc = t.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	var b [1]byte
	rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// Nothing to read (EAGAIN) or interrupted: idle and open.
		closed = n > 0 || (n == 0 && err == nil) || (err != nil && err != syscall.EAGAIN && err != syscall.EWOULDBLOCK && err != syscall.EINTR)
		return true // never wait
	})
	return closed
}
