package main

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/shardflow/shardflow/pipeline"
)

// openPTY opens a pseudo-terminal: master is the terminal's side, tty the
// program's.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	var unlock, n int32
	control(t, master, func(fd int) error {
		if err := ioctl(fd, syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
			return err
		}
		return ioctl(fd, syscall.TIOCGPTN, unsafe.Pointer(&n))
	})
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		t.Fatal(err)
	}
	return master, tty
}

// control runs fn on f's descriptor without making it blocking (f.Fd would),
// so that Close still interrupts a pending Read.
func control(t *testing.T, f *os.File, fn func(fd int) error) {
	t.Helper()
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		t.Fatal(err)
	}
	if ferr != nil {
		t.Fatal(ferr)
	}
}

func ioctl(fd int, req uintptr, arg unsafe.Pointer) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), req, uintptr(arg)); errno != 0 {
		return errno
	}
	return nil
}

// resize sets the terminal's width, as a terminal emulator does when its
// window is resized.
func resize(t *testing.T, master *os.File, cols uint16) {
	ws := struct{ row, col, xpixel, ypixel uint16 }{24, cols, 0, 0} // struct winsize
	control(t, master, func(fd int) error { return ioctl(fd, syscall.TIOCSWINSZ, unsafe.Pointer(&ws)) })
}

// TestStatusLineFollowsTheTerminal runs the status line on a pseudo-terminal
// 80 columns wide, then resizes it to 40: every line is cut to the width the
// terminal has at that tick, minus one, so it never wraps.
func TestStatusLineFollowsTheTerminal(t *testing.T) {
	master, tty := openPTY(t)
	resize(t, master, 80)

	lines, quit := make(chan string), make(chan struct{})
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(master)
		sc.Split(func(data []byte, atEOF bool) (int, []byte, error) { // a line ends at \r
			if i := bytes.IndexByte(data, '\r'); i >= 0 {
				return i + 1, data[:i], nil
			}
			if atEOF && len(data) > 0 {
				return len(data), data, nil
			}
			return 0, nil, nil
		})
		for sc.Scan() {
			line := strings.TrimPrefix(sc.Text(), "\033[K")
			if line == "" {
				continue
			}
			select {
			case lines <- line:
			case <-quit:
				return
			}
		}
	}()
	st := manyShards(16)
	stop := showStatus(tty, func() pipeline.Stats { return st }, func() int { return termWidth(tty) }, 5*time.Millisecond)
	defer func() {
		stop()
		close(quit)
		tty.Close()
		master.Close()
		<-read
	}()
	next := func() string {
		t.Helper()
		select {
		case l := <-lines:
			return l
		case <-time.After(10 * time.Second):
			t.Fatal("no status line within 10s")
			return ""
		}
	}

	if l := next(); utf8.RuneCountInString(l) != 79 {
		t.Fatalf("on 80 columns the line has %d runes, want 79: %q", utf8.RuneCountInString(l), l)
	}
	resize(t, master, 40)
	for {
		l := next()
		n := utf8.RuneCountInString(l)
		if n == 39 {
			return
		}
		if n != 79 {
			t.Fatalf("a line of %d runes: %q", n, l)
		}
	}
}
