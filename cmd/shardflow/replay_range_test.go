package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/sources/generator"
)

// TestReplayRangesAndRepeats writes two phases of generator events into a
// 2-shard kinesalite stream, with a boundary time between them by the
// server's arrival timestamps. `replay --to BOUNDARY` must give exactly the
// first phase's page_stats, `replay --from BOUNDARY --to now` exactly the
// second's; the second replay run again with a fresh checkpoint directory
// into the same output replaces its own files (same names, one copy), and a
// replay of the other range into that output is refused.
func TestReplayRangesAndRepeats(t *testing.T) {
	bin := buildBinary(t)
	srv := testenv.Kinesalite(t)
	const stream = "clicks-phases"
	testenv.CreateStream(t, srv.Client, stream, 2)
	phase := func(seed int64) *generator.Reference {
		ref, err := generator.NewReference(generator.Config{Shards: 2, Events: 6000, Seed: seed, BadEvery: 1500})
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}
	first, second := phase(31), phase(32)
	putEvents(t, srv.Client, stream, interleaved(first), false)
	// The boundary is the next whole second: every record of the first
	// phase arrived before it (kinesalite runs on this machine's clock), and
	// the second phase is put after it has passed.
	boundary := time.Now().Truncate(time.Second).Add(time.Second)
	for time.Now().Before(boundary.Add(10 * time.Millisecond)) {
		time.Sleep(10 * time.Millisecond) // waits for the clock, not for another goroutine
	}
	putEvents(t, srv.Client, stream, interleaved(second), true)

	env := append(os.Environ(), "AWS_ENDPOINT_URL="+srv.Endpoint(), "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x",
		"AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true")
	b := boundary.UTC().Format(time.RFC3339)
	replay := func(out, ckpt string, rng ...string) (string, error) {
		args := append([]string{"replay", "clickstream", "--source", "kinesis://" + stream, "--status", "off",
			"--out", out, "--checkpoints", ckpt}, rng...)
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		log, err := cmd.CombinedOutput()
		return string(log), err
	}
	dirA, dirB := t.TempDir(), t.TempDir()
	if log, err := replay(filepath.Join(dirA, "out"), filepath.Join(dirA, "ckpt"), "--to", b); err != nil {
		t.Fatalf("replay --to %s: %v\n%s", b, err, log)
	}
	checkPageStats(t, filepath.Join(dirA, "out"), first)
	if log, err := replay(filepath.Join(dirB, "out"), filepath.Join(dirB, "ckpt"), "--from", b, "--to", "now"); err != nil {
		t.Fatalf("replay --from %s --to now: %v\n%s", b, err, log)
	}
	checkPageStats(t, filepath.Join(dirB, "out"), second)
	names := parquetNames(t, filepath.Join(dirB, "out"))
	if len(names) == 0 || !strings.HasPrefix(filepath.Base(names[0]), "part-replay-") {
		t.Fatalf("the replay's files %v are not named part-replay-<run>-...", names)
	}

	// The same replay again, with a fresh checkpoint directory.
	log, err := replay(filepath.Join(dirB, "out"), filepath.Join(dirB, "ckpt2"), "--from", b, "--to", "now")
	if err != nil {
		t.Fatalf("the same replay again with a fresh checkpoint directory: %v\n%s", err, log)
	}
	checkPageStats(t, filepath.Join(dirB, "out"), second)
	if again := parquetNames(t, filepath.Join(dirB, "out")); !slices.Equal(again, names) {
		t.Errorf("files after the second replay %v, want the first's names %v", again, names)
	}
	// Another range into that output is another run's output: refused.
	log, err = replay(filepath.Join(dirB, "out"), filepath.Join(dirB, "ckpt3"), "--to", b)
	if err == nil || !strings.Contains(log, "do not account for") || !strings.Contains(log, "--overwrite") {
		t.Errorf("a replay of another range into the output: %v, want a refusal naming --overwrite:\n%s", err, log)
	}
	checkPageStats(t, filepath.Join(dirB, "out"), second)
}

// parquetNames lists the Parquet files under out, relative to it, sorted.
func parquetNames(t *testing.T, out string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".parquet") {
			rel, _ := filepath.Rel(out, p)
			names = append(names, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}
