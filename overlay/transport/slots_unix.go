//go:build unix

package transport

import (
	"golang.org/x/sys/unix"
)

// defaultMaxSockets leaves 1,024 descriptors of the process's open-file
// limit to the rest of the server; 0 (no bound) where the limit is
// unknown or unlimited.
func defaultMaxSockets() int {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur == unix.RLIM_INFINITY || lim.Cur > 1<<30 {
		return 0
	}
	return max(int(lim.Cur)-1024, 64)
}
