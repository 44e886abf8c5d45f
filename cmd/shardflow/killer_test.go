package main

import (
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shardflow/shardflow/internal/testenv"
)

// runKilled runs the command newCmd makes and SIGKILLs it, maxKills times,
// then lets the run after that finish. It fails t when a run exits with an
// error or none finishes, and returns how many kills landed and what the
// finishing run printed.
//
// Each kill is tied to the run's progress, not to the clock, so that a fast
// machine and a slow one see the same number of kills: most kills wait until
// the run has completed a checkpoint of its own (progress rose above what it
// was at the start) and then land at a random moment of the next within, in
// the middle of reading, firing or committing. Every third kill lands at a
// random moment of the first within instead, wherever the run is then:
// starting, recovering, or already at work.
func runKilled(t *testing.T, newCmd func() *exec.Cmd, progress func() uint64, within time.Duration, rng *rand.Rand, maxKills int) (kills int, output string) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		cmd := newCmd()
		var log strings.Builder
		cmd.Stdout, cmd.Stderr = &log, &log
		base := progress()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()

		var kill <-chan time.Time // nil: the run may finish
		var poll *time.Ticker
		switch {
		case kills == maxKills:
		case kills%3 == 2:
			kill = time.After(randomWithin(rng, within))
		default:
			poll = time.NewTicker(2 * time.Millisecond) // unstopped, it is collected
		}
		for done := false; !done; {
			var tick <-chan time.Time
			if poll != nil {
				tick = poll.C
			}
			select {
			case err := <-exited:
				if err != nil {
					t.Fatalf("run %d failed: %v\n%s", attempt, err, log.String())
				}
				return kills, log.String()
			case <-tick:
				if progress() > base {
					poll.Stop()
					poll = nil
					kill = time.After(randomWithin(rng, within))
				}
			case <-kill:
				_ = cmd.Process.Signal(syscall.SIGKILL)
				<-exited
				kills++
				done = true
			}
		}
	}
}

func randomWithin(rng *rand.Rand, d time.Duration) time.Duration {
	return time.Duration(rng.Int64N(int64(d)))
}

// newestCheckpoint returns the id of the newest checkpoint file of any job
// under the checkpoint directory root, 0 for none. The id is a checkpoint
// directory's own measure of progress: it only grows.
func newestCheckpoint(t *testing.T, root string) func() uint64 {
	return func() uint64 {
		names, err := filepath.Glob(filepath.Join(root, "*", "chk-*.ckpt"))
		if err != nil {
			t.Fatal(err)
		}
		var newest uint64
		for _, name := range names {
			var id uint64
			if _, err := fmt.Sscanf(filepath.Base(name), "chk-%d.ckpt", &id); err == nil {
				newest = max(newest, id)
			}
		}
		return newest
	}
}

// killAnywhere runs the job that args describe (the arguments for an output
// directory and a parallelism) once uninterrupted with one window instance,
// then again in a new directory SIGKILLed up to maxKills times with from 1 to
// maxParallel instances per restart, and returns both directories. It fails
// t when fewer than 3 kills landed: such a run tested nothing.
func killAnywhere(t *testing.T, bin string, args func(dir string, parallelism int) []string, maxParallel, maxKills int) (want, got string) {
	t.Helper()
	want = t.TempDir()
	if out, err := exec.Command(bin, args(want, 1)...).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}
	got = t.TempDir()
	seed := uint64(time.Now().UnixNano())
	rng, prng := rand.New(rand.NewPCG(seed, 7)), rand.New(rand.NewPCG(seed, 8))
	kills, _ := runKilled(t, func() *exec.Cmd { return exec.Command(bin, args(got, 1+prng.IntN(maxParallel))...) },
		newestCheckpoint(t, filepath.Join(got, "ckpt")), checkpointInterval, rng, maxKills)
	t.Logf("finished after %d kills (seed %d)", kills, seed)
	if kills < 3 {
		t.Fatalf("only %d kills: the test did not test", kills)
	}
	return want, got
}

// tableRows renders, one string a row, the rows of the Parquet table under
// dir/out/table as DuckDB reads them, ordered by orderBy.
func tableRows(t *testing.T, dir, table, orderBy string) []string {
	t.Helper()
	rows := testenv.DuckDB(t, fmt.Sprintf(
		"SELECT * FROM read_parquet('%s/out/%s/**/*.parquet', hive_partitioning=true) ORDER BY %s", dir, table, orderBy))
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = fmt.Sprint(r)
	}
	return out
}

// sameTable fails t unless table holds the same rows under got as under
// want, and at least one.
func sameTable(t *testing.T, want, got, table, orderBy string) {
	t.Helper()
	wantRows, gotRows := tableRows(t, want, table, orderBy), tableRows(t, got, table, orderBy)
	if len(wantRows) == 0 || !slices.Equal(gotRows, wantRows) {
		t.Errorf("%s: %d rows after kills, %d uninterrupted (and more than 0); first difference: %s",
			table, len(gotRows), len(wantRows), firstDiff(gotRows, wantRows))
	}
}
