package main

import (
	"path/filepath"
	"strconv"
	"testing"
)

// The sessions job SIGKILLed at random moments and restarted, with another
// parallelism each time, until it finishes writes the sessions table of an
// uninterrupted run: the open sessions in its checkpoints resume wherever
// their users' partition lands.
func TestKillAnywhereSessions(t *testing.T) {
	bin := buildBinary(t)
	input := writeInput(t, 4, 60_000)
	src := "file://" + filepath.Join(input, "*.jsonl")
	args := func(dir string, parallelism int) []string {
		return []string{"run", "sessions", "--source", src, "--status", "off",
			"--out", filepath.Join(dir, "out"), "--checkpoints", filepath.Join(dir, "ckpt"),
			"--checkpoint-interval", checkpointInterval.String(), "--parallelism", strconv.Itoa(parallelism)}
	}
	want, got := killAnywhere(t, bin, args, 3, 6)
	sameTable(t, want, got, "sessions", "session_start, user_id")
}
