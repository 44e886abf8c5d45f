package kinesis

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/pipeline/checkpoint"
)

// TestLatestJobRestartedBeforeAnyRecordMissesNothing: a job that starts at
// latest checkpoints its shard before any record arrives (position zero)
// and stops; records put while it is down are read by the next run, which
// must not open the shard at a new LATEST.
func TestLatestJobRestartedBeforeAnyRecordMissesNothing(t *testing.T) {
	srv := testenv.Kinesalite(t)
	c := srv.Client
	const stream, shard = "latest-restart", "shardId-000000000000"
	testenv.CreateStream(t, c, stream, 1)
	put := func(prefix string, n int) []string {
		t.Helper()
		var want []string
		var entries []types.PutRecordsRequestEntry
		for i := range n {
			d := fmt.Sprintf("%s-%02d", prefix, i)
			want = append(want, d)
			entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(d), Data: []byte(d)})
		}
		if err := putRound(t.Context(), c, stream, entries); err != nil {
			t.Fatal(err)
		}
		return want
	}
	put("before-start", 5) // latest: never read
	store := checkpoint.NewMemory()
	base := http.DefaultTransport.(*http.Transport).Clone()
	defer base.CloseIdleConnections()

	// run starts the job, waits until its shard has an iterator and want
	// rows have come, and shuts it down.
	run := func(want int) ([]row, map[string][]string) {
		t.Helper()
		gate := &iteratorGate{base: base, first: shard, issued: make(chan struct{}), release: make(chan struct{}), types: map[string][]string{}}
		close(gate.release)
		src, err := New(t.Context(), Config{Stream: stream, Client: srv.NewClient(gate), Start: StartLatest,
			PollInterval: MinCallInterval, Mem: checkedMem(t)})
		if err != nil {
			t.Fatal(err)
		}
		sink := &collectSink{name: "main", t: t}
		job, err := pipeline.New("kinesis-latest").From(src).To(sink).Checkpoints(store, time.Hour).Build()
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- job.Run(ctx) }()
		select {
		case <-gate.issued:
		case err := <-done:
			t.Fatalf("the job ended before its shard was opened: %v", err)
		}
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			sink.mu.Lock()
			n := len(sink.rows)
			sink.mu.Unlock()
			if n >= want {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("%d of %d rows before the deadline", n, want)
			case <-tick.C:
			}
		}
		if err := job.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		sink.mu.Lock()
		defer sink.mu.Unlock()
		gate.mu.Lock()
		defer gate.mu.Unlock()
		return slices.Clone(sink.rows), gate.types
	}

	rows, _ := run(0) // opened at LATEST, nothing read, checkpointed
	if len(rows) != 0 {
		t.Fatalf("first run read %d rows, want none", len(rows))
	}
	want := put("while-down", 10)
	rows, its := run(len(want))
	var got []string
	for _, r := range rows {
		got = append(got, r.Data)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("second run read %v, want the %d records put while the job was down", got, len(want))
	}
	if typs := its[shard]; len(typs) == 0 || typs[0] != "AT_TIMESTAMP" {
		t.Errorf("second run opened the shard with %v, want AT_TIMESTAMP (the first run's start)", typs)
	}
}
