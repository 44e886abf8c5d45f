package main

import (
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/shardflow/shardflow/internal/testenv"
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
	want := t.TempDir()
	if out, err := exec.Command(bin, args(want, 1)...).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}
	got := t.TempDir()
	seed := uint64(time.Now().UnixNano())
	rng, prng := rand.New(rand.NewPCG(seed, 7)), rand.New(rand.NewPCG(seed, 8))
	kills, _ := runKilled(t, func() *exec.Cmd { return exec.Command(bin, args(got, 1+prng.IntN(3))...) },
		newestCheckpoint(t, filepath.Join(got, "ckpt")), checkpointInterval, rng, 6)
	t.Logf("finished after %d kills (seed %d)", kills, seed)
	if kills < 3 {
		t.Fatalf("only %d kills: the test did not test", kills)
	}
	query := func(dir string) []string {
		rows := testenv.DuckDB(t, fmt.Sprintf(
			"SELECT * FROM read_parquet('%s/out/sessions/**/*.parquet', hive_partitioning=true) ORDER BY session_start, user_id", dir))
		out := make([]string, len(rows))
		for i, r := range rows {
			out[i] = fmt.Sprint(r)
		}
		return out
	}
	wantRows, gotRows := query(want), query(got)
	if len(wantRows) == 0 || !slices.Equal(gotRows, wantRows) {
		t.Errorf("sessions: %d rows after kills, %d uninterrupted (and more than 0); first difference: %s", len(gotRows), len(wantRows), firstDiff(gotRows, wantRows))
	}
}
