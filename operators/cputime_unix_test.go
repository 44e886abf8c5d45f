//go:build unix

package operators

import (
	"syscall"
	"time"
)

// processCPU is the CPU time the test process has used, user and system.
// On a shared, noisy machine records per CPU second is steadier than
// records per wall second.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
