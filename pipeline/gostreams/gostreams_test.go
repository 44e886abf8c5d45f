package gostreams_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/shardflow/shardflow/expr"
	"github.com/shardflow/shardflow/operators"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/pipeline/gostreams"
	"github.com/shardflow/shardflow/sources/generator"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// countSink counts rows and batches; a stand-in for any pipeline.Sink.
type countSink struct {
	rows, batches atomic.Int64
	onWrite       func() // test hook, after each write
}

func (s *countSink) Name() string                { return "count" }
func (s *countSink) Bind(*arrow.Schema) error    { return nil }
func (s *countSink) Close(context.Context) error { return nil }
func (s *countSink) Write(_ context.Context, b *pipeline.Batch) error {
	s.rows.Add(int64(b.Len()))
	s.batches.Add(1)
	b.Release()
	if s.onWrite != nil {
		s.onWrite()
	}
	return nil
}

// Generator clickstream through a go-streams pipeline: decode, keep the
// purchases, count them. Each channel send carries a whole Arrow batch.
func Example() {
	ctx := context.Background()
	src, _ := generator.New(generator.Config{Shards: 2, Events: 20_000, Seed: 1})
	decode, _ := gostreams.NewFlow(ctx, pipeline.RawSchema, memory.DefaultAllocator,
		operators.JSON(generator.ClickstreamSchema, operators.JSONOptions{Required: []string{"ts"}}),
		operators.Filter(expr.Eq("event_type", "purchase")))
	counter := &countSink{}
	sink, _ := gostreams.NewSink(ctx, counter, decode.Schema())

	gostreams.NewSource(ctx, src).Via(decode).To(sink)

	fmt.Println("purchases:", counter.rows.Load(), "errors:", decode.Err(), sink.Err())
	// Output: purchases: 1028 errors: <nil> <nil>
}

func TestDeadLettersOnTheMainSinkAreAnError(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	src, err := generator.New(generator.Config{Shards: 3, Events: 30_000, Seed: 2, BatchSize: 500, BadEvery: 1000, Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	decode, err := gostreams.NewFlow(ctx, pipeline.RawSchema, mem,
		operators.JSON(generator.ClickstreamSchema, operators.JSONOptions{Required: []string{"ts"}}))
	if err != nil {
		t.Fatal(err)
	}
	sink, err := gostreams.NewSink(ctx, &countSink{}, decode.Schema())
	if err != nil {
		t.Fatal(err)
	}
	gostreams.NewSource(ctx, src).Via(decode).To(sink)
	if err := sink.Err(); err == nil || !strings.Contains(err.Error(), "a dead_letter batch from shard") {
		t.Fatalf("got %v, want the dead letters refused", err)
	}
}

func TestFlowRejectsAStageThatDoesNotFit(t *testing.T) {
	_, err := gostreams.NewFlow(context.Background(), generator.ClickstreamSchema, memory.DefaultAllocator,
		operators.JSON(generator.ClickstreamSchema, operators.JSONOptions{}))
	if err == nil {
		t.Fatal("JSON decoding bound to a non-raw schema")
	}
}

func TestBatchesNotRecords(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	src, err := generator.New(generator.Config{Shards: 2, Events: 10_000, Seed: 3, BatchSize: 1000, Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	decode, err := gostreams.NewFlow(ctx, pipeline.RawSchema, mem,
		operators.JSON(generator.ClickstreamSchema, operators.JSONOptions{Required: []string{"ts"}}))
	if err != nil {
		t.Fatal(err)
	}
	counter := &countSink{}
	sink, err := gostreams.NewSink(ctx, counter, decode.Schema())
	if err != nil {
		t.Fatal(err)
	}
	gostreams.NewSource(ctx, src).Via(decode).To(sink)
	if err := sink.Err(); err != nil {
		t.Fatal(err)
	}
	if counter.rows.Load() != 10_000 || counter.batches.Load() != 10 {
		t.Errorf("%d rows in %d sends, want 10000 in 10", counter.rows.Load(), counter.batches.Load())
	}
}

// failingStage passes batches through and fails on the n-th.
type failingStage struct{ n int }

func (s failingStage) Name() string { return "failing" }
func (s failingStage) Bind(in *arrow.Schema) (*arrow.Schema, func(pipeline.OperatorEnv) (pipeline.Operator, error), error) {
	return in, func(pipeline.OperatorEnv) (pipeline.Operator, error) { return &failingOp{n: s.n}, nil }, nil
}

type failingOp struct{ n, seen int }

func (o *failingOp) Process(_ context.Context, b *pipeline.Batch, emit pipeline.Emit) error {
	if o.seen++; o.seen == o.n {
		b.Release()
		return errors.New("boom")
	}
	emit(b)
	return nil
}

// commitSink counts rows and whether it was committed.
type commitSink struct {
	countSink
	committed atomic.Bool
}

func (s *commitSink) Recover(context.Context, uint64, []byte) error { return nil }
func (s *commitSink) PreCommit(context.Context, uint64) ([]byte, error) {
	return []byte("h"), nil
}
func (s *commitSink) Commit(context.Context, uint64, []byte) error {
	s.committed.Store(true)
	return nil
}

// A failing stage stops an unbounded source, and the sink reports the error
// instead of committing the partial output.
func TestAFailureStopsTheSourceAndNothingCommits(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	src, err := generator.New(generator.Config{Shards: 2, Events: 0, Seed: 5, BatchSize: 100, Mem: mem}) // unbounded
	if err != nil {
		t.Fatal(err)
	}
	flow, err := gostreams.NewFlow(ctx, pipeline.RawSchema, mem, failingStage{n: 3})
	if err != nil {
		t.Fatal(err)
	}
	out := &commitSink{}
	sink, err := gostreams.NewSink(ctx, out, flow.Schema())
	if err != nil {
		t.Fatal(err)
	}
	source := gostreams.NewSource(ctx, src)
	source.Via(flow).To(sink)
	if ctx.Err() != nil {
		t.Fatal("the source was not stopped: the pipeline ran until the test's deadline")
	}
	if err := sink.Err(); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("sink.Err() = %v, want the stage's error", err)
	}
	if out.committed.Load() {
		t.Error("the sink committed after a failure upstream")
	}
	if out.rows.Load() != 200 {
		t.Errorf("the sink got %d rows, want the 2 batches before the failure", out.rows.Load())
	}
}

// Cancelling the context is reported as such, and nothing commits.
func TestCancellationIsNotSuccess(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	src, err := generator.New(generator.Config{Shards: 2, Events: 0, Seed: 6, Mem: mem})
	if err != nil {
		t.Fatal(err)
	}
	flow, err := gostreams.NewFlow(ctx, pipeline.RawSchema, mem,
		operators.JSON(generator.ClickstreamSchema, operators.JSONOptions{Required: []string{"ts"}}))
	if err != nil {
		t.Fatal(err)
	}
	out := &commitSink{}
	out.onWrite = func() {
		if out.batches.Load() == 5 {
			cancel()
		}
	}
	sink, err := gostreams.NewSink(ctx, out, flow.Schema())
	if err != nil {
		t.Fatal(err)
	}
	gostreams.NewSource(ctx, src).Via(flow).To(sink)
	if err := sink.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("sink.Err() = %v, want context.Canceled", err)
	}
	if out.committed.Load() {
		t.Error("the sink committed after the context was cancelled")
	}
}
