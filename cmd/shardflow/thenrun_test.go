package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/pipeline/checkpoint"
	"github.com/shardflow/shardflow/sources/generator"
)

// TestReplayThenRunHandsOverToLive backfills a 2-shard kinesalite stream
// with `replay --then-run` while records keep arriving: a third of the
// events is in the stream before it starts, a third is put while it
// backfills, and the rest once it has said the backfill is done. Stopped
// with SIGTERM once its checkpoint covers the last record put, it must have
// read every record once: page_stats holds exactly the totals of the events
// for every window its watermark closed, the dead letters every malformed
// event, and the summary every record.
func TestReplayThenRunHandsOverToLive(t *testing.T) {
	bin := buildBinary(t)
	srv := testenv.Kinesalite(t)
	const stream = "clicks-backfill"
	testenv.CreateStream(t, srv.Client, stream, 2)
	ref, err := generator.NewReference(generator.Config{Shards: 2, Events: 9000, Seed: 41, BadEvery: 2000, EventInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	events := interleaved(ref)
	third := len(events) / 3
	last := map[string]string{} // each shard's last sequence number put
	putRecordsSeq(t, srv.Client, stream, events[:third], last)

	dir := t.TempDir()
	ckpt := filepath.Join(dir, "ckpt")
	cmd := exec.Command(bin, "replay", "clickstream", "--source", "kinesis://"+stream, "--from", "trim_horizon", "--then-run",
		"--status", "on", "--out", filepath.Join(dir, "out"), "--checkpoints", ckpt, "--checkpoint-interval", "200ms")
	cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL="+srv.Endpoint(), "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x",
		"AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	var log logLines
	backfilled := log.watch(stderr, "backfill done")
	go func() { <-log.closed; exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("shardflow replay --then-run:\n%s", log.String())
		}
	}()

	putRecordsSeq(t, srv.Client, stream, events[third:2*third], last) // while it backfills
	select {
	case <-backfilled:
	case err := <-exited:
		t.Fatalf("replay --then-run exited before the backfill was done: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("no end of the backfill within 2 minutes")
	}
	putRecordsSeq(t, srv.Client, stream, events[2*third:], last) // once it follows live

	store, err := checkpoint.NewDir(ckpt, checkpoint.DirConfig{})
	if err != nil {
		t.Fatal(err)
	}
	covered := func() bool {
		cp, err := store.Latest(t.Context(), "clickstream")
		if err != nil || cp == nil {
			return false
		}
		for sh, seq := range last {
			if cp.Shards[sh].Position.Seq != seq {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(2 * time.Minute)
	for !covered() { // polls the checkpoints the job writes every 200 ms
		if time.Now().After(deadline) {
			t.Fatal("the checkpoints did not reach the last records put within 2 minutes")
		}
		select {
		case err := <-exited:
			t.Fatalf("replay --then-run exited while following live: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err != nil {
		t.Fatalf("replay --then-run after SIGTERM: %v", err)
	}
	if !strings.Contains(stdout.String(), count(int64(len(events)))+" (") {
		t.Errorf("the summary does not count the %d records put once each:\n%s", len(events), stdout.String())
	}

	cp, err := store.Latest(t.Context(), "clickstream")
	if err != nil || cp == nil {
		t.Fatalf("latest checkpoint: %v", err)
	}
	all, malformed := expectedPageStats(t, ref)
	var closed []*pageStats // the windows that the job's watermark has closed
	for _, r := range all {
		start, err := time.Parse("2006-01-02T15:04", r.window)
		if err != nil {
			t.Fatal(err)
		}
		if start.Add(time.Minute).UnixMilli() <= cp.Watermark {
			closed = append(closed, r)
		}
	}
	if len(closed) < len(all)/2 {
		t.Fatalf("the watermark %d closed %d of %d windows: the test did not test", cp.Watermark, len(closed), len(all))
	}
	t.Logf("the watermark closed %d of %d windows; the output:\n%s", len(closed), len(all), log.String())
	checkPageStatsRows(t, filepath.Join(dir, "out"), closed, malformed)
}

// putRecordsSeq writes evs with PutRecords, 500 at a time, and records each
// shard's last sequence number in last.
func putRecordsSeq(t *testing.T, c *awskinesis.Client, stream string, evs []generator.Event, last map[string]string) {
	t.Helper()
	for len(evs) > 0 {
		n := min(500, len(evs))
		entries := make([]types.PutRecordsRequestEntry, n)
		for i, e := range evs[:n] {
			entries[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(e.PartitionKey), Data: e.Data}
		}
		out, err := c.PutRecords(context.Background(), &awskinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
		if err != nil {
			t.Fatal(err)
		}
		if f := aws.ToInt32(out.FailedRecordCount); f > 0 {
			t.Fatalf("%d records failed", f)
		}
		for _, r := range out.Records {
			last[aws.ToString(r.ShardId)] = aws.ToString(r.SequenceNumber)
		}
		evs = evs[n:]
	}
}

// logLines collects a process's output lines.
type logLines struct {
	mu     sync.Mutex
	b      strings.Builder
	closed chan struct{}
}

// watch reads r until it ends and returns a channel closed at the first
// line that contains s; closed is closed when r ends.
func (l *logLines) watch(r io.Reader, s string) <-chan struct{} {
	seen := make(chan struct{})
	l.closed = make(chan struct{})
	go func() {
		defer close(l.closed)
		once := sync.OnceFunc(func() { close(seen) })
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			l.mu.Lock()
			l.b.WriteString(sc.Text() + "\n")
			l.mu.Unlock()
			if strings.Contains(sc.Text(), s) {
				once()
			}
		}
	}()
	return seen
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
