//go:build !linux

package bench

import "time"

// threadCPU runs fn; this system cannot tell a thread's CPU time.
func threadCPU(fn func()) (time.Duration, bool) {
	fn()
	return 0, false
}
