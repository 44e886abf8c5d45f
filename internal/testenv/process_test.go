package testenv

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// Two services that bind port 0 and print the port get distinct ports, and
// each port answers as its own service.
func TestPrintedPortsAreTheServicesOwn(t *testing.T) {
	var ps [2]*Process
	var wg sync.WaitGroup
	for i := range ps {
		wg.Go(func() {
			p, err := launch("helper", helperCmd("serve", 0), PrintedPort)
			if err != nil {
				t.Error(err)
				return
			}
			ps[i] = p
		})
	}
	wg.Wait()
	for _, p := range ps {
		if p != nil {
			t.Cleanup(p.stop)
		}
	}
	if t.Failed() {
		return
	}
	if ps[0].Port == ps[1].Port {
		t.Fatalf("both services on port %d", ps[0].Port)
	}
	for _, p := range ps {
		if pid := pidAt(t, p); pid != p.cmd.Process.Pid {
			t.Errorf("127.0.0.1:%d answers as pid %d, want the service's %d", p.Port, pid, p.cmd.Process.Pid)
		}
	}
}

// recorder is a testing.TB whose failure state is set by the test and whose
// cleanups and logs are kept, so that Start's cleanup can be run and checked.
type recorder struct {
	testing.TB
	failed   bool
	cleanups []func()
	logs     []string
}

func (r *recorder) Failed() bool     { return r.failed }
func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Logf(format string, args ...any) {
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

// A test that fails while a service runs logs what the service wrote, when
// the service is stopped; a test that passes does not.
func TestFailedTestLogsServiceOutput(t *testing.T) {
	for _, failed := range []bool{false, true} {
		r := &recorder{TB: t, failed: failed}
		p := Start(r, "helper", helperCmd("serve", 0), PrintedPort)
		for i := len(r.cleanups) - 1; i >= 0; i-- {
			r.cleanups[i]()
		}
		select {
		case <-p.exited:
		default:
			t.Fatal("the service runs after its test's cleanup")
		}
		if !failed {
			if len(r.logs) != 0 {
				t.Errorf("passed test logged %q", r.logs)
			}
			continue
		}
		if len(r.logs) != 1 || !strings.Contains(r.logs[0], "helper up") || !strings.Contains(r.logs[0], listenLine) {
			t.Errorf("failed test logged %q, want the service's output", r.logs)
		}
	}
}
