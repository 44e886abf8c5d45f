package testenv

import (
	"os/exec"
	"strconv"
	"testing"
)

// Redis starts Debian's redis-server on a loopback port for the duration of
// t, without persistence, and returns its address (127.0.0.1:PORT).
// redis-server cannot bind port 0 and report it, so the port is picked by
// StartOnPort, which checks that the listener there is the server's own.
func Redis(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("testenv: redis-server is not installed (scripts/testenv-install.sh installs it): %v", err)
	}
	p := StartOnPort(t, "redis-server", func(port int) *exec.Cmd {
		return exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
			"--save", "", "--appendonly", "no", "--databases", "64", "--daemonize", "no", "--dir", t.TempDir(), "--loglevel", "warning")
	})
	return "127.0.0.1:" + strconv.Itoa(p.Port)
}
