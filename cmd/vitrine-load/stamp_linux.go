//go:build linux

package main

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"
)

// stampArrivals has the kernel time each segment's arrival at the socket
// (software receive timestamps, SO_TIMESTAMPING). A timed viewer's
// latency then ends when the bytes reached this machine, not when a loop
// of the tool, sharing the cores with the server it measures, got to
// read them: the loops may read in batches and leave the server the CPU.
func stampArrivals(fd int) error {
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPING_NEW,
		unix.SOF_TIMESTAMPING_RX_SOFTWARE|unix.SOF_TIMESTAMPING_SOFTWARE)
}

// stampSpace is room for the control message of one timestamp.
var stampSpace = unix.CmsgSpace(3 * 16)

// recvStamped is recv(2) without waiting, with the arrival of the last
// segment it read (TCP stamps a read with its newest segment, so a frame
// completed by the read has its last byte's arrival; frames that arrived
// earlier and are read with it are timed late, never early). The time is
// zero when the kernel gave none.
func recvStamped(fd int, b, oob []byte) (int, time.Time, error) {
	n, oobn, _, _, err := unix.Recvmsg(fd, b, oob, unix.MSG_DONTWAIT)
	if err != nil {
		return 0, time.Time{}, err
	}
	var at time.Time
	if msgs, perr := unix.ParseSocketControlMessage(oob[:oobn]); perr == nil {
		for _, m := range msgs {
			// scm_timestamping64: three __kernel_timespec, the first the
			// software stamp.
			if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SO_TIMESTAMPING_NEW && len(m.Data) >= 16 {
				sec := int64(binary.NativeEndian.Uint64(m.Data[0:8]))
				nsec := int64(binary.NativeEndian.Uint64(m.Data[8:16]))
				if sec != 0 || nsec != 0 {
					at = time.Unix(sec, nsec)
				}
			}
		}
	}
	return n, at, nil
}
