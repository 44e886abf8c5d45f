package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Dir returns the directory that holds the installed node packages:
// $SHARDFLOW_TESTENV, or .testenv at the repository's root. It fails t when the
// packages are not installed.
func Dir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("SHARDFLOW_TESTENV")
	if dir == "" {
		dir = filepath.Join(RepoRoot(t), ".testenv")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		t.Fatalf("testenv: no node packages in %s (%v): run scripts/testenv-install.sh", dir, err)
	}
	return dir
}

// RepoRoot returns the repository's root directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testenv: cannot locate the repository")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Process is a service started for one test.
type Process struct {
	Name string
	Port int
	cmd  *exec.Cmd
	log  *bytes.Buffer
}

// Start runs cmd as a service that listens on 127.0.0.1:port, waits until the
// port accepts connections, and stops it (TERM, then KILL) when t ends. It
// fails t with the service's output when it exits or does not listen within
// 30 seconds.
func Start(t testing.TB, name string, port int, cmd *exec.Cmd) *Process {
	t.Helper()
	p := &Process{Name: name, Port: port, cmd: cmd, log: new(bytes.Buffer)}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start %s: %v", name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { p.stop(exited) })

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return p
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("testenv: %s exited before listening on %s: %v\n%s", name, addr, err, p.log)
		case <-deadline.C:
			t.Fatalf("testenv: %s not listening on %s after 30s\n%s", name, addr, p.log)
		case <-tick.C:
		}
	}
}

// Endpoint is the service's base URL, http://127.0.0.1:PORT.
func (p *Process) Endpoint() string { return fmt.Sprintf("http://127.0.0.1:%d", p.Port) }

func (p *Process) stop(exited chan error) {
	pgid := -p.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-exited
	}
}

// Node returns a command that runs node with args in the testenv directory.
func Node(ctx context.Context, t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("testenv: node is not installed: %v", err)
	}
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = Dir(t)
	return cmd
}
