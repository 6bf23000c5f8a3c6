//go:build !linux

package browser

import (
	"os"
	"syscall"
	"time"
)

// Elsewhere (developer laptops) only the main process is tracked; CI runs
// Linux.

func sysProcAttr() *syscall.SysProcAttr { return nil }

func killGroup(pid int) error {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
	return nil
}

func groupAlive(int) []int { return nil }

func waitGroupGone(int, time.Duration) error { return nil }
