package generator_test

import (
	"errors"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/generator"
)

// TestBatchMatchesRawBuilder checks that a shard reader's batches, whose
// buffers it writes itself, hold what a pipeline.RawBuilder makes of the
// Reference's records: the same schema, columns, values and positions.
func TestBatchMatchesRawBuilder(t *testing.T) {
	for _, cfg := range []generator.Config{
		{Shards: 3, Events: 10_000, Seed: 9, BatchSize: 777, BadEvery: 13},
		{Shards: 1, Events: 5, Seed: 1, BatchSize: 1},
		{Shards: 2, Events: 3_000, Seed: 2, BatchSize: 4096},
	} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		cfg.Mem = mem
		src := mustNew(t, cfg)
		ref, err := generator.NewReference(cfg)
		if err != nil {
			t.Fatal(err)
		}
		rb := pipeline.NewRawBuilder(mem)
		for s := range cfg.Shards {
			id := generator.ShardID(s)
			r, err := src.OpenShard(t.Context(), pipeline.Shard{ID: id}, pipeline.Position{})
			if err != nil {
				t.Fatal(err)
			}
			i := int64(0)
			for {
				got, err := r.Read(t.Context())
				if errors.Is(err, pipeline.ErrShardEnd) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				var buf []byte
				for range got.Len() {
					var key string
					buf, key, _ = ref.Append(buf[:0], s, i)
					i++
					rb.Append(buf, key, pipeline.Position{N: i}, 0)
				}
				want := rb.NewBatch(id)
				if !got.Rec.Schema().Equal(want.Rec.Schema()) {
					t.Fatalf("schema %v, want %v", got.Rec.Schema(), want.Rec.Schema())
				}
				if !array.RecordEqual(got.Rec, want.Rec) {
					t.Fatalf("shard %d batch ending at %d:\n got %v\nwant %v", s, i, got.Rec, want.Rec)
				}
				for c := range int(got.Rec.NumCols()) {
					if n := got.Rec.Column(c).NullN(); n != 0 {
						t.Fatalf("column %d has %d nulls", c, n)
					}
				}
				if got.Shard != want.Shard || got.First != want.First || got.Last != want.Last ||
					got.MinTime != want.MinTime || got.MaxTime != want.MaxTime || got.Side != want.Side {
					t.Fatalf("batch %+v, want %+v", *got, *want)
				}
				got.Release()
				want.Release()
			}
			if i != ref.ShardEvents(s) {
				t.Fatalf("shard %d: read %d events, want %d", s, i, ref.ShardEvents(s))
			}
			r.Close()
		}
		rb.Release()
		mem.AssertSize(t, 0)
	}
}
