package main

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runKilled runs the command newCmd makes and SIGKILLs it after killAfter()
// — the fault, at a random moment the caller picks — then starts it again,
// maxKills times; the run after that may finish. It fails t when a run exits
// with an error or none finishes, and returns how many kills landed and what
// the finishing run printed.
func runKilled(t *testing.T, newCmd func() *exec.Cmd, killAfter func() time.Duration, maxKills int) (kills int, output string) {
	t.Helper()
	for attempt := 0; attempt < 100; attempt++ {
		cmd := newCmd()
		var log strings.Builder
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		kill := time.NewTimer(killAfter())
		if kills == maxKills {
			kill.Stop()
		}
		select {
		case err := <-exited:
			kill.Stop()
			if err != nil {
				t.Fatalf("run %d failed: %v\n%s", attempt, err, log.String())
			}
			return kills, log.String()
		case <-kill.C:
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-exited
			kills++
		}
	}
	t.Fatalf("not finished after %d kills", kills)
	return kills, ""
}
