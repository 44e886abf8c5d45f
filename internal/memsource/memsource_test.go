package memsource_test

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/internal/memsource"
	"github.com/shardflow/shardflow/sources/generator"
	"github.com/shardflow/shardflow/sources/sourcetest"
)

// A captured generator delivers what the generator does, resumes included.
func TestConformance(t *testing.T) {
	cfg := generator.Config{Shards: 3, Events: 2_000, Seed: 1, BatchSize: 97, BadEvery: 50}
	// The batches are captured once, before the suite's allocator exists: a
	// Source serves references to them and allocates nothing itself.
	sourcetest.Run(t, func(t *testing.T, _ memory.Allocator) sourcetest.Fixture {
		gen, err := generator.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		src, err := memsource.Capture(t.Context(), gen)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(src.Release)
		if got := src.Records(); got != cfg.Events {
			t.Fatalf("captured %d records, want %d", got, cfg.Events)
		}
		ref, err := generator.NewReference(cfg)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][]sourcetest.Record{}
		for ev := range ref.All() {
			want[ev.Shard] = append(want[ev.Shard], sourcetest.Record{Data: ev.Data, PartitionKey: ev.PartitionKey, Pos: ev.Pos})
		}
		return sourcetest.Fixture{Source: src, Want: want}
	})
}

// An unbounded source cannot be captured.
func TestCaptureRefusesAnUnboundedSource(t *testing.T) {
	gen, err := generator.New(generator.Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := memsource.Capture(t.Context(), gen); err == nil {
		t.Fatal("captured an unbounded generator")
	}
}
