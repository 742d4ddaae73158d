//go:build linux

package bench

import (
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// threadNow reads the calling thread's CPU clock (CLOCK_THREAD_CPUTIME_ID).
func threadNow() (time.Duration, bool) {
	const clockThreadCPUTime = 3
	var ts syscall.Timespec
	if _, _, errno := syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}

// threadCPU runs fn on one OS thread and returns the CPU time that thread
// spent in it: a measure other processes competing for the cores do not
// inflate (wall time does). ok is false where the system cannot tell.
func threadCPU(fn func()) (time.Duration, bool) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	a, ok := threadNow()
	fn()
	b, ok2 := threadNow()
	return b - a, ok && ok2
}
