package generator_test

import (
	"testing"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/generator"
)

// BenchmarkGenerator reads one unbounded shard, BatchSize 1000, unthrottled.
// records/cpu-s counts the process's CPU (GC included), steadier than
// records/s on a shared machine.
func BenchmarkGenerator(b *testing.B) {
	src, err := generator.New(generator.Config{Seed: 1, BadEvery: 5000})
	if err != nil {
		b.Fatal(err)
	}
	r, err := src.OpenShard(b.Context(), pipeline.Shard{ID: "shard-0000"}, pipeline.Position{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	generator.ReportBatches(b, func() *pipeline.Batch {
		batch, err := r.Read(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		return batch
	})
}
