package testenv

import (
	"errors"
	"os/exec"
	"testing"
)

// A port where another process listens is not the service's. The old Start
// dialled the port and took any listener as the service: both cases passed it.
func TestOwnedPortRefusesForeignListener(t *testing.T) {
	for _, mode := range []string{
		"idle",  // never listens: only the foreign listener answers
		"serve", // tries the port, fails with "address already in use"
	} {
		t.Run(mode, func(t *testing.T) {
			port := foreignListener(t)
			p, err := launch("helper", helperCmd(mode, port), OwnedPort(port))
			if p != nil {
				p.stop()
			}
			if !errors.Is(err, errPortTaken) {
				t.Fatalf("launch on a foreign listener's port: %v, want errPortTaken", err)
			}
		})
	}
}

// StartOnPort tries another port when the service lost the first one, and the
// port it returns answers as the service.
func TestStartOnPortRetriesLostPort(t *testing.T) {
	taken := foreignListener(t)
	var picked []int
	pick := func() (int, error) {
		port := taken
		if len(picked) > 0 {
			var err error
			if port, err = candidatePort(); err != nil {
				return 0, err
			}
		}
		picked = append(picked, port)
		return port, nil
	}
	p, err := launchOnPort("helper", func(port int) *exec.Cmd { return helperCmd("serve", port) }, pick)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	if len(picked) != 2 || p.Port != picked[1] {
		t.Fatalf("picked %v, service on %d; want a second port after %d", picked, p.Port, taken)
	}
	if pid := pidAt(t, p); pid != p.cmd.Process.Pid {
		t.Errorf("127.0.0.1:%d answers as pid %d, want the service's %d", p.Port, pid, p.cmd.Process.Pid)
	}
}

// StartOnPort gives up after portAttempts lost ports.
func TestStartOnPortGivesUp(t *testing.T) {
	taken := foreignListener(t)
	n := 0
	pick := func() (int, error) { n++; return taken, nil }
	p, err := launchOnPort("helper", func(port int) *exec.Cmd { return helperCmd("idle", port) }, pick)
	if p != nil {
		p.stop()
	}
	if !errors.Is(err, errPortTaken) || n != portAttempts {
		t.Fatalf("after %d ports: %v, want errPortTaken after %d", n, err, portAttempts)
	}
}

func TestParseProcAddr(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ip   string
		port int
	}{
		{"0100007F:1F90", "127.0.0.1", 8080},
		{"00000000:0050", "0.0.0.0", 80},
		{"00000000000000000000000000000000:01BB", "::", 443},
		{"0000000000000000FFFF00000100007F:1F90", "127.0.0.1", 8080},
		{"00000000000000000000000001000000:0016", "::1", 22},
	} {
		ip, port, ok := parseProcAddr(tc.in)
		if !ok || ip.String() != tc.ip || port != tc.port {
			t.Errorf("parseProcAddr(%q) = %v, %d, %v; want %s, %d", tc.in, ip, port, ok, tc.ip, tc.port)
		}
	}
	for _, bad := range []string{"", "0100007F", "0100007F:", "01007F:1F90", "zz00007F:1F90", "0100007F:10000"} {
		if _, _, ok := parseProcAddr(bad); ok {
			t.Errorf("parseProcAddr(%q) ok", bad)
		}
	}
}
