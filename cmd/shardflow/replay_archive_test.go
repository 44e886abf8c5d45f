package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/shardflow/shardflow/internal/testenv"
)

// firehoseKeys are where an archive of writeInput's shards puts them: one
// object per hour per shard, the first gzip, the second plain.
var firehoseKeys = []string{"2026/01/02/03/events-0.jsonl.gz", "2026/01/02/04/events-1.jsonl"}

// archiveObjects returns the objects of an archive of input's two files.
func archiveObjects(t *testing.T, input string) map[string][]byte {
	t.Helper()
	objs := map[string][]byte{}
	for s, key := range firehoseKeys {
		data, err := os.ReadFile(filepath.Join(input, fmt.Sprintf("events-%d.jsonl", s)))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(key, ".gz") {
			var b bytes.Buffer
			w := gzip.NewWriter(&b)
			w.Write(data)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			data = b.Bytes()
		}
		objs[key] = data
	}
	return objs
}

func writeArchive(t *testing.T, objs map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for key, data := range objs {
		p := filepath.Join(dir, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func replayArgs(dir, src string) []string {
	return []string{"replay", "clickstream", "--source", src, "--status", "off",
		"--out", filepath.Join(dir, "out"), "--checkpoints", filepath.Join(dir, "ckpt"),
		"--checkpoint-interval", checkpointInterval.String()}
}

// compareWithArchive checks that got's page_stats equal want's row for row,
// without duplicates, and that got has as many dead letters as want, each
// naming an archive object and the position in it.
func compareWithArchive(t *testing.T, want, got string) {
	t.Helper()
	query := func(dir string) []string {
		rows := testenv.DuckDB(t, fmt.Sprintf(
			"SELECT * FROM read_parquet('%s/out/page_stats/**/*.parquet', hive_partitioning=true) ORDER BY window_start, page", dir))
		out := make([]string, len(rows))
		for i, r := range rows {
			out[i] = fmt.Sprint(r)
		}
		return out
	}
	w, g := query(want), query(got)
	if len(w) == 0 {
		t.Fatal("the run wrote no rows")
	}
	if len(w) != len(g) {
		t.Fatalf("rows: got %d, want %d", len(g), len(w))
	}
	for i := range w {
		if w[i] != g[i] {
			t.Fatalf("row %d differs:\n got %v\nwant %v", i, g[i], w[i])
		}
	}
	wd, gd := deadLetters(t, want), deadLetters(t, got)
	if len(wd) == 0 || len(wd) != len(gd) {
		t.Fatalf("dead letters: got %d, want %d (and more than 0)", len(gd), len(wd))
	}
	for _, d := range gd {
		if !strings.Contains(d, `"archive"`) || !(strings.Contains(d, firehoseKeys[0]) || strings.Contains(d, firehoseKeys[1])) {
			t.Fatalf("dead letter does not name its archive object: %s", d)
		}
	}
}

// A replay of a local archive (one object gzip, one plain, in Firehose hour
// paths) writes the tables run writes over the same events; replaying it
// again refuses nothing and adds nothing; a changed archive is refused
// before any work, in one line.
func TestReplayLocalArchiveEqualsRun(t *testing.T) {
	bin := buildBinary(t)
	input := writeInput(t, 2, 30_000)
	want := t.TempDir()
	if code, out := runBinary(t, bin, append(shardflowArgs(want, "file://"+filepath.Join(input, "*.jsonl")), "--parallelism", "1")...); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, out)
	}
	arch := writeArchive(t, archiveObjects(t, input))
	src := "file://" + arch + "/*/*/*/*/*"
	got := t.TempDir()
	if code, out := runBinary(t, bin, replayArgs(got, src)...); code != 0 {
		t.Fatalf("replay: exit %d\n%s", code, out)
	}
	compareWithArchive(t, want, got)

	if code, out := runBinary(t, bin, replayArgs(got, src)...); code != 0 {
		t.Fatalf("second replay: exit %d\n%s", code, out)
	}
	compareWithArchive(t, want, got)

	// the gzip object rewritten (same events, another compression level)
	data, _ := os.ReadFile(filepath.Join(input, "events-0.jsonl"))
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
	w.Write(data)
	w.Close()
	if err := os.WriteFile(filepath.Join(arch, filepath.FromSlash(firehoseKeys[0])), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out := runBinary(t, bin, replayArgs(got, src)...)
	oneLine(t, "replay of a changed archive", code, out, "changed since the checkpoint")
	if !strings.Contains(out, firehoseKeys[0]) || !strings.Contains(out, "new checkpoint directory") {
		t.Fatalf("the refusal does not name the object and what to do:\n%s", out)
	}
}

// A replay of an S3 archive, SIGKILLed at random moments and restarted until
// it finishes, writes the tables an uninterrupted run writes.
func TestReplayS3ArchiveKilledEqualsRun(t *testing.T) {
	bin := buildBinary(t)
	input := writeInput(t, 2, 60_000)
	want := t.TempDir()
	if code, out := runBinary(t, bin, append(shardflowArgs(want, "file://"+filepath.Join(input, "*.jsonl")), "--parallelism", "1")...); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, out)
	}
	srv := testenv.StartS3(t, "firehose")
	srv.Env(t)
	for key, data := range archiveObjects(t, input) {
		if _, err := srv.Client.PutObject(context.Background(), &s3.PutObjectInput{
			Bucket: aws.String("firehose"), Key: aws.String("clicks/" + key), Body: bytes.NewReader(data),
		}); err != nil {
			t.Fatal(err)
		}
	}
	got := t.TempDir()
	args := replayArgs(got, "s3://firehose/clicks/")
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 11))
	kills, out := runKilled(t, func() *exec.Cmd { return exec.Command(bin, args...) },
		newestCheckpoint(t, filepath.Join(got, "ckpt")), checkpointInterval, rng, 4)
	t.Logf("seed %d: finished after %d kills\n%s", seed, kills, out)
	if kills < 1 {
		t.Fatalf("no kill: the test did not test")
	}
	compareWithArchive(t, want, got)
}

// A replay's --source picks the archive path for file://, s3:// and bare
// globs, not for streams; --from/--to parse into hours or fail in one line.
func TestArchiveSourceAndRange(t *testing.T) {
	for src, want := range map[string]string{
		"file://a/*.gz": "archive://file://a/*.gz", "s3://b/p/": "archive://s3://b/p/", "a/*.jsonl": "archive://file://a/*.jsonl",
		"kinesis://s": "", "generator": "",
	} {
		if got := isArchive(src); got != (want != "") {
			t.Errorf("isArchive(%q) = %v", src, got)
		}
		if want != "" && archiveSpec(src) != want {
			t.Errorf("archiveSpec(%q) = %q, want %q", src, archiveSpec(src), want)
		}
	}
	cfg, err := archiveRange("2026-01-02T03:00:00Z", "now")
	if err != nil || cfg.From.Hour() != 3 || !cfg.To.IsZero() {
		t.Errorf("archiveRange = %+v, %v", cfg, err)
	}
	for _, r := range [][2]string{{"yesterday", "now"}, {"trim_horizon", "soon"}, {"2026-01-02T03:00:00Z", "2026-01-02T03:00:00Z"}} {
		if _, err := archiveRange(r[0], r[1]); err == nil {
			t.Errorf("archiveRange(%q, %q): no error", r[0], r[1])
		}
	}
}
