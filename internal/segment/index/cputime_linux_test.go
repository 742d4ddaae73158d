//go:build linux

package index

import (
	"syscall"
	"time"
	"unsafe"
)

// threadCPU reads the calling thread's CPU clock: for the benchmarks, a
// figure other processes on the cores do not inflate.
func threadCPU() time.Duration {
	const clockThreadCPUTime = 3
	var ts syscall.Timespec
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}
