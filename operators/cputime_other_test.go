//go:build !unix

package operators

import "time"

func processCPU() time.Duration { return 0 }
