//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package checkpoint

import (
	"errors"
	"os"
	"runtime"
)

var errWouldBlock = errors.New("lock held elsewhere")

// tryLock fails: this system has no flock, and Dir does not run without an
// exclusive lock.
func tryLock(*os.File) error {
	return errors.New("file locks are not supported on " + runtime.GOOS)
}
