package webrtc

import (
	"encoding/binary"
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// gsoAvailable: Linux sends one buffer as many datagrams of one size
// (UDP_SEGMENT, since 4.18); the network stack is crossed once for them all.
const gsoAvailable = true

// gsoControl is the control message asking the kernel to cut a buffer
// into datagrams of size bytes.
func gsoControl(size int) []byte {
	b := make([]byte, unix.CmsgSpace(2))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(b[unix.CmsgLen(0):], uint16(size))
	return b
}

// gsoRefused tells the errors of a kernel or an interface that cannot
// segment (no UDP_SEGMENT, no checksum offload).
func gsoRefused(err error) bool {
	return errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOPROTOOPT) || errors.Is(err, unix.EIO) || errors.Is(err, unix.EOPNOTSUPP)
}
