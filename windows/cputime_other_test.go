//go:build !unix

package windows

import "time"

func processCPU() time.Duration { return 0 }
