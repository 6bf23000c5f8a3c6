//go:build linux

package transport

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// sendNow is send(2) on a non-blocking stream socket: the bytes the
// socket's buffer took, without SIGPIPE on a connection the peer reset.
func sendNow(fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
		unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
