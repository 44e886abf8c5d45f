package gostreams_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

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
}

func (s *countSink) Name() string                { return "count" }
func (s *countSink) Bind(*arrow.Schema) error    { return nil }
func (s *countSink) Close(context.Context) error { return nil }
func (s *countSink) Write(_ context.Context, b *pipeline.Batch) error {
	s.rows.Add(int64(b.Len()))
	s.batches.Add(1)
	b.Release()
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
