package main

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/shardflow/shardflow/pipeline"
)

// shutdownJob is a job whose Shutdown blocks until its context ends, as a
// final checkpoint that has not finished yet would.
type shutdownJob struct {
	last      uint64
	shutdowns chan struct{}
}

func (j *shutdownJob) Shutdown(ctx context.Context) error {
	j.shutdowns <- struct{}{}
	<-ctx.Done()
	return ctx.Err()
}

func (j *shutdownJob) Stats() pipeline.Stats { return pipeline.Stats{LastCheckpoint: j.last} }

// syncBuffer is a strings.Builder safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.WriteString(string(p))
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestSecondSignalAborts(t *testing.T) {
	for _, tc := range []struct {
		last uint64
		want string
	}{
		{7, "second signal: aborting without a final checkpoint; the next run resumes from checkpoint 7\n"},
		{0, "second signal: aborting without a final checkpoint; the next run starts from the beginning\n"},
	} {
		ctx, abort := context.WithCancel(context.Background())
		sigs, stopped := make(chan os.Signal, 2), make(chan struct{})
		job := &shutdownJob{last: tc.last, shutdowns: make(chan struct{}, 1)}
		var stderr syncBuffer
		s := watchSignals(ctx, sigs, func() { close(stopped) }, job, abort, &stderr)
		if s.stopped() || s.aborted() {
			t.Fatal("stopped before any signal")
		}
		sigs <- os.Interrupt
		<-job.shutdowns
		if !s.stopped() || s.aborted() {
			t.Fatalf("after one signal: stopped %v, aborted %v", s.stopped(), s.aborted())
		}
		sigs <- syscall.SIGTERM
		<-ctx.Done() // the abort
		<-stopped
		if !s.aborted() {
			t.Error("a second signal did not count as an abort")
		}
		if got := stderr.String(); !strings.HasSuffix(got, tc.want) || !strings.Contains(got, "interrupt: taking a final checkpoint") {
			t.Errorf("stderr %q, want it to end with %q", got, tc.want)
		}
	}
}

// TestSecondSignalExitsNonZero sends SIGINT and SIGTERM to a running
// shardflow: the first starts a final checkpoint, the second aborts it, and
// the command says so and fails.
func TestSecondSignalExitsNonZero(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "run", "clickstream", "--events", "0", "--status", "on", "--checkpoint-interval", "1h",
		"--out", filepath.Join(dir, "out"), "--checkpoints", filepath.Join(dir, "ckpt"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The status line starts after the signal handler: once it shows, the
	// signals are the handler's.
	r := bufio.NewReader(stderr)
	var log strings.Builder
	for !strings.Contains(log.String(), " records ") {
		b, err := r.ReadByte()
		if err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("no status line: %v\n%s", err, log.String())
		}
		log.WriteByte(b)
	}
	if err := errors.Join(cmd.Process.Signal(syscall.SIGINT), cmd.Process.Signal(syscall.SIGTERM)); err != nil {
		t.Fatal(err)
	}
	rest, _ := readAll(r)
	log.WriteString(rest)
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1\n%s", err, log.String())
	}
	for _, want := range []string{
		"second signal: aborting without a final checkpoint; the next run starts from the beginning\n",
		"shardflow: clickstream: aborted by a second signal, without a final checkpoint; the next run starts from the beginning\n",
	} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("stderr lacks %q:\n%q", want, log.String())
		}
	}
	if strings.Contains(log.String(), "context canceled") {
		t.Errorf("stderr says context canceled:\n%q", log.String())
	}
}

func readAll(r *bufio.Reader) (string, error) {
	var b strings.Builder
	_, err := r.WriteTo(&b)
	return b.String(), err
}
