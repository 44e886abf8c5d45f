package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a service may take to listen.
const startTimeout = 30 * time.Second

// listenLine starts the line a service started with PrintedPort writes, on
// stdout or stderr, once it listens: "testenv: listening on 127.0.0.1:PORT".
const listenLine = "testenv: listening on 127.0.0.1:"

// errPortTaken reports that a service lost the port it was told to use to
// another process, so that it can be started again on another port.
var errPortTaken = errors.New("testenv: port taken by another process")

// Process is a service started for one test.
type Process struct {
	Name string
	// Port is the port on 127.0.0.1 that the service itself listens on: the
	// one it reported (PrintedPort) or one verified to be its own (OwnedPort).
	Port    int
	cmd     *exec.Cmd
	out     *output
	exited  chan struct{} // closed when the service has exited
	waitErr error         // the service's exit status, set before exited closes
}

// Ready tells Start on which port a starting service listens. Start calls it
// whenever the service writes output and every 50ms until it returns a port,
// or an error, or the service exits, or 30 seconds pass; (0, nil) means "not
// yet".
type Ready func(p *Process) (port int, err error)

// PrintedPort is the Ready of a service that binds port 0 on 127.0.0.1 and
// then writes the line "testenv: listening on 127.0.0.1:PORT".
func PrintedPort(p *Process) (int, error) {
	for line := range strings.Lines(p.out.String()) {
		if s, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), listenLine); ok {
			port, err := strconv.Atoi(s)
			if err != nil || port <= 0 || port > 65535 {
				return 0, fmt.Errorf("testenv: %s: bad listening line %q", p.Name, line)
			}
			return port, nil
		}
	}
	return 0, nil
}

// Start runs cmd as a service in its own process group, waits until ready
// gives the port it listens on, and stops it (TERM, then KILL) when t ends;
// if t has failed by then, it logs what the service wrote. It fails t with the
// service's output when the service exits or is not ready within 30 seconds.
func Start(t testing.TB, name string, cmd *exec.Cmd, ready Ready) *Process {
	t.Helper()
	p, err := launch(name, cmd, ready)
	if err != nil {
		t.Fatal(err)
	}
	p.stopWhenDone(t)
	return p
}

// launch starts cmd and waits until ready gives its port. On error the
// service has been stopped and the error carries its output.
func launch(name string, cmd *exec.Cmd, ready Ready) (*Process, error) {
	p := &Process{Name: name, cmd: cmd, out: newOutput(), exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("testenv: start %s: %w", name, err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	port, err := p.await(ready)
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("%w\n%s", err, p.out.String())
	}
	p.Port = port
	return p, nil
}

func (p *Process) await(ready Ready) (int, error) {
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		more := p.out.more() // before ready reads the output, so no write is missed
		if port, err := ready(p); port != 0 || err != nil {
			return port, err
		}
		select {
		case <-p.exited:
			err := fmt.Errorf("testenv: %s exited before listening: %v", p.Name, p.waitErr)
			if strings.Contains(strings.ToLower(p.out.String()), "address already in use") {
				err = fmt.Errorf("%w: %w", errPortTaken, err)
			}
			return 0, err
		case <-deadline.C:
			return 0, fmt.Errorf("testenv: %s not listening after %v", p.Name, startTimeout)
		case <-more:
		case <-tick.C:
		}
	}
}

// stopWhenDone stops p when t ends and then, if t has failed, logs p's output.
func (p *Process) stopWhenDone(t testing.TB) {
	t.Cleanup(func() {
		p.stop()
		p.logIfFailed(t)
	})
}

// logIfFailed logs what the service wrote when t has failed, so that a test
// that failed while the service ran shows whether the service was the cause.
func (p *Process) logIfFailed(t testing.TB) {
	if !t.Failed() {
		return
	}
	out := p.out.String()
	if out == "" {
		out = "(nothing)\n"
	}
	t.Logf("testenv: %s (pid %d, 127.0.0.1:%d) wrote:\n%s", p.Name, p.cmd.Process.Pid, p.Port, out)
}

// Endpoint is the service's base URL, http://127.0.0.1:PORT.
func (p *Process) Endpoint() string { return fmt.Sprintf("http://127.0.0.1:%d", p.Port) }

// Stop stops the service before the test ends, as stop does; the test's
// cleanup then finds it stopped.
func (p *Process) Stop() { p.stop() }

// stop sends TERM to the service's process group, then KILL if it has not
// exited after 3 seconds, and waits for it to exit.
func (p *Process) stop() {
	pgid := -p.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	grace := time.NewTimer(3 * time.Second)
	defer grace.Stop()
	select {
	case <-p.exited:
	case <-grace.C:
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-p.exited
	}
}

// output collects a service's stdout and stderr. Its writes come from
// os/exec's copying goroutines while tests read it.
type output struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	next chan struct{} // closed by the next Write
}

func newOutput() *output { return &output{next: make(chan struct{})} }

func (o *output) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	close(o.next)
	o.next = make(chan struct{})
	return o.buf.Write(b)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// more returns a channel that is closed when more output arrives.
func (o *output) more() <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.next
}
