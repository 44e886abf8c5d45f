package testenv

import (
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
