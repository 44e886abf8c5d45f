//go:build !unix

package cputime

import "time"

// Process returns 0: CPU time is measured on Unix only.
func Process() time.Duration { return 0 }
