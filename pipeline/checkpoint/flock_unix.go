//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package checkpoint

import (
	"errors"
	"os"
	"syscall"
)

// errWouldBlock is what tryLock returns when another open file description
// holds the lock.
var errWouldBlock = errors.New("lock held elsewhere")

// tryLock takes an exclusive flock on f without waiting. The lock belongs to
// f's open file description: it conflicts with every other open of the file,
// in this process too, and ends when f is closed or the process exits.
func tryLock(f *os.File) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var lockErr error
	if err := sc.Control(func(fd uintptr) {
		for {
			lockErr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB)
			if lockErr != syscall.EINTR {
				break
			}
		}
	}); err != nil {
		return err
	}
	if errors.Is(lockErr, syscall.EWOULDBLOCK) {
		return errWouldBlock
	}
	return lockErr
}
