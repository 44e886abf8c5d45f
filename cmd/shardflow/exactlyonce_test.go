package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shardflow/shardflow/internal/testenv"
)

// The tests of this file attack exactly once from outside one process: a
// second process on the same directories, a changed source, a checkpoint
// directory removed while the job runs. Each ends by reading the table back
// with DuckDB and comparing it with an uninterrupted run's.

// genArgs are the arguments of a generator run of clickstream into dir.
func genArgs(dir string, extra ...string) []string {
	return append([]string{"run", "clickstream", "--status", "off", "--events", "200000", "--shards", "4", "--seed", "5",
		"--out", filepath.Join(dir, "out"), "--checkpoints", filepath.Join(dir, "ckpt"), "--checkpoint-interval", "50ms"}, extra...)
}

// process is a shardflow binary running in the background whose stderr can
// be waited on, line by line.
type process struct {
	cmd    *exec.Cmd
	exited chan error
	mu     sync.Mutex
	log    strings.Builder
	lines  chan string
}

func startProcess(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), exited: make(chan error, 1), lines: make(chan string, 1024)}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout = &syncWriter{p: p}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default: // nobody waits for lines that far ahead
			}
		}
		close(p.lines)
	}()
	go func() {
		<-scanned
		p.exited <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("output of %v:\n%s", args, p.output())
		}
	})
	return p
}

type syncWriter struct{ p *process }

func (w *syncWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.log.Write(b)
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// waitFor waits until the process prints a line on stderr that contains s.
func (p *process) waitFor(t *testing.T, s string) {
	t.Helper()
	p.waitForLine(t, s, func(line string) bool { return strings.Contains(line, s) })
}

// waitForLine waits until the process prints a line on stderr that match
// accepts; what describes it in a failure.
func (p *process) waitForLine(t *testing.T, what string, match func(string) bool) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("the process ended without printing %q", what)
			}
			if match(line) {
				return
			}
		case <-deadline:
			t.Fatalf("no line with %q after 60s", what)
		}
	}
}

// wait waits for the process to end and returns its exit code.
func (p *process) wait(t *testing.T) int {
	t.Helper()
	go func() { // keep the scanner from blocking on an unread channel
		for range p.lines {
		}
	}()
	select {
	case err := <-p.exited:
		var ee *exec.ExitError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &ee):
			return ee.ExitCode()
		}
		t.Fatalf("wait: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("the process did not end within 2 minutes")
	}
	return -1
}

// runBinary runs the binary to its end and returns its exit code and output.
func runBinary(t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("run %v: %v", args, err)
	return -1, ""
}

func pageStatRows(t *testing.T, dir string) int {
	t.Helper()
	rows := testenv.DuckDB(t, fmt.Sprintf("SELECT count(*) AS n FROM read_parquet('%s/out/page_stats/**/*.parquet', hive_partitioning=true)", dir))
	return int(toInt(rows[0]["n"]))
}

func toInt(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	case int:
		return int64(n)
	}
	var i int64
	fmt.Sscan(fmt.Sprint(v), &i)
	return i
}

// oneLine checks that a refused run printed one line on stderr naming want.
func oneLine(t *testing.T, what string, code int, out, want string) {
	t.Helper()
	if code == 0 || !strings.Contains(out, want) || strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Errorf("%s: exit %d, output %q; want a non-zero exit and one line containing %q", what, code, out, want)
	}
}

// Two processes on the same directories: the second is refused before any
// work, and the output of the first is exact.
func TestSecondProcessIsRefused(t *testing.T) {
	bin := buildBinary(t)
	want, got := t.TempDir(), t.TempDir()
	if code, out := runBinary(t, bin, genArgs(want)...); code != 0 {
		t.Fatalf("uninterrupted run: exit %d\n%s", code, out)
	}

	first := startProcess(t, bin, genArgs(got, "--rate", "50000", "--log-level", "info")...)
	first.waitFor(t, "job started")
	for range 3 {
		code, out := runBinary(t, bin, genArgs(got)...)
		oneLine(t, "second process", code, out, "runs job \"clickstream\"")
	}
	if code := first.wait(t); code != 0 {
		t.Fatalf("first process: exit %d\n%s", code, first.output())
	}
	compareOutputs(t, want, got)
}

// A resumed job whose generator has other shards is refused, and its output
// stays as it was.
func TestChangedShardsAreRefused(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	// An unbounded job, stopped once it has committed rows.
	first := startProcess(t, bin, genArgs(dir, "--events", "0", "--rate", "40000", "--log-level", "debug")...)
	first.waitForLine(t, "a checkpoint with rows out", committedRows)
	if err := first.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := first.wait(t); code != 0 {
		t.Fatalf("first run: exit %d\n%s", code, first.output())
	}
	rows := pageStatRows(t, dir)

	code, out := runBinary(t, bin, genArgs(dir, "--events", "0", "--shards", "8")...)
	oneLine(t, "--shards 8", code, out, "--shards 8 (was 4)")
	code, out = runBinary(t, bin, genArgs(dir, "--events", "0", "--seed", "6")...)
	oneLine(t, "--seed 6", code, out, "--seed 6 (was 5)")
	code, out = runBinary(t, bin, genArgs(dir, "--events", "1000")...)
	oneLine(t, "--events 1000", code, out, "--events 1000 (was 0)")
	if got := pageStatRows(t, dir); got != rows {
		t.Errorf("the refused runs changed the table: %d rows, was %d", got, rows)
	}
}

// The checkpoint directory removed while the job runs: the job stops without
// committing again, a new run refuses the output it cannot account for, and
// with --overwrite it replaces it exactly, with no row twice.
func TestCheckpointDirectoryRemovedMidJob(t *testing.T) {
	bin := buildBinary(t)
	want, got := t.TempDir(), t.TempDir()
	if code, out := runBinary(t, bin, genArgs(want)...); code != 0 {
		t.Fatalf("uninterrupted run: exit %d\n%s", code, out)
	}

	first := startProcess(t, bin, genArgs(got, "--rate", "40000", "--log-level", "debug")...)
	first.waitForLine(t, "a checkpoint with rows out", committedRows)
	if err := os.RemoveAll(filepath.Join(got, "ckpt")); err != nil {
		t.Fatal(err)
	}
	if code := first.wait(t); code == 0 {
		t.Fatalf("the job went on after its checkpoint directory was removed:\n%s", first.output())
	}

	code, out := runBinary(t, bin, genArgs(got)...)
	oneLine(t, "run after the checkpoints were lost", code, out, "that its checkpoints do not account for")
	if code, out := runBinary(t, bin, genArgs(got, "--overwrite")...); code != 0 {
		t.Fatalf("--overwrite: exit %d\n%s", code, out)
	}
	compareOutputs(t, want, got)
}

var _ io.Writer = (*syncWriter)(nil)

// committedRows matches the debug line of a checkpoint that committed rows
// of page_stats (checkpoint complete ... rows_out=N, N > 0).
func committedRows(line string) bool {
	_, n, ok := strings.Cut(line, " rows_out=")
	return strings.Contains(line, "checkpoint complete") && ok && !strings.HasPrefix(n, "0 ")
}
