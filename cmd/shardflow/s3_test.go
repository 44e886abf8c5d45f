package main

import (
	"math/rand/v2"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardflow/shardflow/internal/testenv"
)

// TestKillAnywhereOnS3GivesTheSameOutput is TestKillAnywhereGivesTheSameOutput
// with --out s3://: the binary, SIGKILLed at random moments and restarted
// until it finishes, writes to an S3 server (gofakes3, in this process, on
// 127.0.0.1). The objects the server stores, downloaded and read by DuckDB,
// equal an uninterrupted local run's table and dead letters, without a
// duplicate row; no upload or temporary object is left; and each partition
// has at most one object per run that wrote to it (files roll by size and
// age, and each crash costs at most one extra file), however short the
// checkpoint interval.
func TestKillAnywhereOnS3GivesTheSameOutput(t *testing.T) {
	bin := buildBinary(t)
	input := writeInput(t, 4, 100_000)
	src := "file://" + filepath.Join(input, "*.jsonl")

	want := t.TempDir()
	if out, err := exec.Command(bin, append(shardflowArgs(want, src), "--parallelism", "1")...).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}

	srv := testenv.StartS3(t, "lake")
	srv.Env(t) // the SDK's default configuration of the child processes
	got := t.TempDir()
	args := []string{"run", "clickstream", "--source", src, "--status", "off",
		"--out", "s3://lake/lake/run1", "--checkpoints", filepath.Join(got, "ckpt"),
		"--checkpoint-interval", checkpointInterval.String()}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 9))
	runs := 0
	kills, out := runKilled(t, func() *exec.Cmd {
		runs++
		return exec.Command(bin, args...)
	}, newestCheckpoint(t, filepath.Join(got, "ckpt")), checkpointInterval, rng, 6)
	t.Logf("seed %d: finished after %d kills\n%s", seed, kills, out)
	if kills < 3 {
		t.Fatalf("only %d kills: the test did not test", kills)
	}
	if !strings.Contains(out, "s3://lake/lake/run1/page_stats") {
		t.Errorf("the summary does not name the table on S3:\n%s", out)
	}
	srv.Download(t, "lake", "lake/run1/", filepath.Join(got, "out"))
	compareOutputs(t, want, got)

	if up := srv.Uploads(t, "lake", "lake/"); len(up) != 0 {
		t.Errorf("uploads left: %v", up)
	}
	perPartition := make(map[string]int)
	for _, k := range srv.Keys(t, "lake", "lake/run1/") {
		switch {
		case strings.Contains(k, "/_shardflow/tmp/"):
			t.Errorf("temporary object left: %s", k)
		case strings.HasSuffix(k, ".parquet") && !strings.Contains(k, "/_shardflow/"):
			perPartition[path.Dir(k)]++
		}
	}
	if len(perPartition) == 0 {
		t.Fatal("no Parquet object")
	}
	for dir, n := range perPartition {
		if n > runs {
			t.Errorf("%s: %d objects from %d runs, want at most one a run", dir, n, runs)
		}
	}
	t.Logf("%d runs; objects per partition: %v", runs, perPartition)
}
