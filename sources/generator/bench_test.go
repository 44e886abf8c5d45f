package generator_test

import (
	"testing"

	"github.com/shardflow/shardflow/internal/cputime"
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
	records, bytes := 0, int64(0)
	b.ReportAllocs()
	cpu0 := cputime.Process()
	for b.Loop() {
		batch, err := r.Read(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		records += batch.Len()
		bytes += int64(len(batch.Rec.Column(0).Data().Buffers()[2].Bytes()))
		batch.Release()
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(bytes)/1e6/b.Elapsed().Seconds(), "MB/s")
	if cpu := cputime.Process() - cpu0; cpu > 0 {
		b.ReportMetric(float64(records)/cpu.Seconds(), "records/cpu-s")
	}
}
