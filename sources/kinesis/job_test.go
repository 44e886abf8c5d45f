package kinesis

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/pipeline/checkpoint"
)

// collectSink keeps the rows of the batches it is given.
type collectSink struct {
	name string
	t    testing.TB
	mu   sync.Mutex
	rows []row
}

var _ pipeline.Sink = (*collectSink)(nil)

func (s *collectSink) Name() string                    { return s.name }
func (s *collectSink) Bind(*arrow.Schema) error        { return nil }
func (s *collectSink) Close(ctx context.Context) error { return nil }
func (s *collectSink) Write(ctx context.Context, b *pipeline.Batch) error {
	got := rows(s.t, b)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rows = append(s.rows, got...)
	return nil
}

// TestJobDeadLettersAndResume runs the real runtime over kinesalite: a corrupt
// aggregate reaches the dead-letter sink (and only it), valid aggregates are
// deaggregated, and a second bounded run resumes after the first one's
// checkpoint without repeating records or dead letters.
func TestJobDeadLettersAndResume(t *testing.T) {
	srv := testenv.Kinesalite(t)
	const stream = "job"
	testenv.CreateStream(t, srv.Client, stream, 1)
	corrupt := aggregate(t, "k:c0", "k:c1")
	corrupt[len(corrupt)-1] ^= 0xFF
	put := func(datas ...[]byte) {
		for _, d := range datas {
			if _, err := srv.Client.PutRecord(t.Context(), &kinesis.PutRecordInput{StreamName: aws.String(stream), PartitionKey: aws.String("k"), Data: d}); err != nil {
				t.Fatal(err)
			}
		}
	}
	store := checkpoint.NewMemory()
	// run reads the stream with the real runtime: bounded by stop, or, with a
	// zero stop, unbounded until both sinks hold want rows, then shut down
	// (a final checkpoint, not finished shards).
	run := func(stop time.Time, want int) (main, dead []row) {
		mainSink := &collectSink{name: "main", t: t}
		deadSink := &collectSink{name: "dead", t: t}
		cfg := Config{Stream: stream, Client: srv.Client, PollInterval: MinCallInterval}
		if !stop.IsZero() {
			cfg.StopAt = &StopAt{Time: stop}
		}
		src, err := New(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		job, err := pipeline.New("kinesis-dead-letters").From(src).To(mainSink).DeadLetters(deadSink).
			Checkpoints(store, time.Hour).Build()
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- job.Run(ctx) }()
		if stop.IsZero() {
			tick := time.NewTicker(20 * time.Millisecond)
			for ctx.Err() == nil {
				mainSink.mu.Lock()
				deadSink.mu.Lock()
				n := len(mainSink.rows) + len(deadSink.rows)
				deadSink.mu.Unlock()
				mainSink.mu.Unlock()
				if n >= want {
					break
				}
				<-tick.C
			}
			tick.Stop()
			if err := job.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
		}
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		return mainSink.rows, deadSink.rows
	}
	data := func(rs []row) string {
		var s []string
		for _, r := range rs {
			s = append(s, r.Data)
		}
		return strings.Join(s, " ")
	}

	put([]byte("p0"), aggregate(t, "k:a0", "k:a1"), corrupt, []byte("p1"))
	main, dead := run(time.Time{}, 5)
	if got, want := data(main), "p0 a0 a1 p1"; got != want {
		t.Errorf("first run: main %q, want %q", got, want)
	}
	if len(dead) != 1 || dead[0].Data != string(corrupt) || !strings.Contains(dead[0].Dead, "corrupt KPL aggregate") || dead[0].Pos.N != 0 {
		t.Errorf("first run: dead letters %+v, want the corrupt aggregate", dead)
	}
	cp, err := store.Latest(t.Context(), "kinesis-dead-letters")
	if err != nil || cp == nil {
		t.Fatalf("first run left no checkpoint (%v)", err)
	}
	t.Logf("checkpoint after the first run: %+v", cp.Shards)

	put(aggregate(t, "k:b0", "k:b1", "k:b2"), []byte("p2"))
	main, dead = run(time.Now(), 0)
	if got, want := data(main), "b0 b1 b2 p2"; got != want {
		t.Errorf("second run: main %q, want %q", got, want)
	}
	if len(dead) != 0 {
		t.Errorf("second run repeated dead letters: %+v", dead)
	}
}
