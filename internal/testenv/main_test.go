package testenv

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"testing"

	"go.uber.org/goleak"
)

// TestMain runs the test binary as a helper service when TESTENV_HELPER says
// so (the os/exec tests' helper-process pattern), and the tests otherwise.
func TestMain(m *testing.M) {
	if mode := os.Getenv("TESTENV_HELPER"); mode != "" {
		os.Exit(helper(mode, os.Getenv("TESTENV_HELPER_PORT")))
	}
	goleak.VerifyTestMain(m)
}

// helperCmd returns a command that runs this test binary as a helper service:
// mode "serve" listens on 127.0.0.1:port (0: a port the kernel picks), writes
// the listening line and answers every HTTP request with its pid; mode "idle"
// never listens. Both write "helper up" first and exit on TERM (at once: the
// race detector would wait a second at exit).
func helperCmd(mode string, port int) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "TESTENV_HELPER="+mode, "GORACE=atexit_sleep_ms=0", "TESTENV_HELPER_PORT="+strconv.Itoa(port))
	return cmd
}

func helper(mode, port string) int {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	fmt.Fprintln(os.Stderr, "helper up")
	if mode == "idle" {
		<-term
		return 0
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("%s%d\n", listenLine, ln.Addr().(*net.TCPAddr).Port)
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, os.Getpid())
	}))
	<-term
	ln.Close()
	return 0
}

// pidAt returns the pid the helper service at p answers with.
func pidAt(t *testing.T, p *Process) int {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(p.Endpoint())
	if err != nil {
		t.Fatalf("get %s: %v", p.Endpoint(), err)
	}
	defer resp.Body.Close()
	var pid int
	if _, err := fmt.Fscan(resp.Body, &pid); err != nil {
		t.Fatalf("read pid from %s: %v", p.Endpoint(), err)
	}
	return pid
}

// foreignListener listens on a port of 127.0.0.1 for the duration of t, as
// another test's server would, and returns the port.
func foreignListener(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}
