//go:build !linux

package transport

import (
	"golang.org/x/sys/unix"

	"vitrine/events"
	"vitrine/overlay"
)

// sendNow writes to a non-blocking socket. Sockets are parked on Linux
// only (internal/netpoll), so this is not on a hot path elsewhere.
func sendNow(fd int, b []byte) (int, error) { return unix.Write(fd, b) }
