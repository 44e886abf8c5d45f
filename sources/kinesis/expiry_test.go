package kinesis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/pipeline/checkpoint"
)

// retentionRecorder records what the source reports of retention.
type retentionRecorder struct {
	nopMetrics
	mu       sync.Mutex
	headroom map[string]time.Duration // the last one reported, by shard
	expired  map[string]int
}

func (m *retentionRecorder) RetentionHeadroom(shard string, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.headroom[shard] = d
}

func (m *retentionRecorder) ExpiredResumed(shard string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expired[shard]++
}

// TestResumePastExpiredRecords lets records expire between two runs of a job,
// for real: a kinesalite whose clock runs 25 hours behind writes the first
// records, a second one on the same streams with the real clock trims them
// (24 h retention) as Kinesis would. The first run reads some of them and
// checkpoints, and its headroom is reported below zero; more records are
// written and expire unread. The second run fails, saying how many hours
// were lost, instead of going on silently from the oldest retained record;
// with AcceptExpired a third run goes on from there, reads exactly the
// retained records and counts the loss.
func TestResumePastExpiredRecords(t *testing.T) {
	const stream, shift = "expiring", -25 * time.Hour
	dir := t.TempDir()
	old := testenv.KinesaliteWith(t, testenv.KinesaliteOptions{Path: dir, ClockShift: shift})
	testenv.CreateStream(t, old.Client, stream, 1)
	put := func(srv *testenv.KinesisServer, prefix string, n int) {
		for i := range n {
			if _, err := srv.Client.PutRecord(t.Context(), &kinesis.PutRecordInput{StreamName: aws.String(stream),
				PartitionKey: aws.String("k"), Data: fmt.Appendf(nil, "%s%d", prefix, i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	store := checkpoint.NewMemory()
	run := func(srv *testenv.KinesisServer, accept bool, want int) ([]row, *retentionRecorder, error) {
		m := &retentionRecorder{headroom: map[string]time.Duration{}, expired: map[string]int{}}
		sink := &collectSink{name: "main", t: t}
		src, err := New(t.Context(), Config{Stream: stream, Client: srv.Client, PollInterval: MinCallInterval, AcceptExpired: accept, Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		job, err := pipeline.New("expiry").From(src).To(sink).DeadLetters(&collectSink{name: "dead", t: t}).
			Checkpoints(store, time.Hour).Build()
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- job.Run(ctx) }()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			sink.mu.Lock()
			n := len(sink.rows)
			sink.mu.Unlock()
			if n >= want {
				if err := job.Shutdown(ctx); err != nil {
					t.Fatalf("Shutdown: %v", err)
				}
				return sink.rows, m, <-done
			}
			select {
			case err := <-done:
				return sink.rows, m, err
			case <-tick.C:
			}
		}
	}
	data := func(rs []row) string {
		var s []string
		for _, r := range rs {
			s = append(s, r.Data)
		}
		return strings.Join(s, " ")
	}

	put(old, "a", 3)
	rows, m, err := run(old, false, 3)
	if err != nil || data(rows) != "a0 a1 a2" {
		t.Fatalf("first run: %q, %v; want a0 a1 a2", data(rows), err)
	}
	if h, ok := m.headroom["shardId-000000000000"]; !ok || h > -50*time.Minute || h < -70*time.Minute {
		t.Errorf("first run: retention headroom %v (reported %v), want about -1 h for records 25 h old", h, ok)
	}
	cp, err := store.Latest(t.Context(), "expiry")
	if err != nil || cp == nil {
		t.Fatalf("first run left no checkpoint (%v)", err)
	}
	since := time.UnixMilli(cp.Shards["shardId-000000000000"].Arrival)
	if age := time.Since(since); age < 25*time.Hour-time.Minute || age > 25*time.Hour+time.Minute {
		t.Fatalf("checkpoint: arrival of the last record %v (%v ago), want about 25 h ago", since, age)
	}
	put(old, "b", 2) // never read: expired when the job resumes
	old.Stop()

	now := testenv.KinesaliteWith(t, testenv.KinesaliteOptions{Path: dir})
	put(now, "c", 2)
	rows, _, err = run(now, false, 1)
	var gap *pipeline.ExpiredError
	if !errors.Is(err, ErrExpired) || !errors.As(err, &gap) {
		t.Fatalf("second run: %v (read %q), want ErrExpired with a *pipeline.ExpiredError", err, data(rows))
	}
	t.Logf("second run: %v", err)
	if len(rows) != 0 {
		t.Errorf("second run read %q past the expired records", data(rows))
	}
	if !gap.Since.Equal(since) || gap.Oldest.Sub(since) < 25*time.Hour-time.Minute || gap.Oldest.Sub(since) > 25*time.Hour+time.Minute {
		t.Errorf("second run: lost from %v to %v, want from the checkpoint's last record (%v), about 25 h", gap.Since, gap.Oldest, since)
	}
	if !strings.Contains(err.Error(), "25.0 hours of records") || !strings.Contains(err.Error(), "--accept-expired") {
		t.Errorf("second run: %q, want the hours lost and what to do", err)
	}

	rows, m, err = run(now, true, 2)
	if err != nil || data(rows) != "c0 c1" {
		t.Fatalf("third run (accepting the loss): %q, %v; want c0 c1", data(rows), err)
	}
	if m.expired["shardId-000000000000"] != 1 {
		t.Errorf("third run: expired resumes %v, want 1 for the shard", m.expired)
	}
}
