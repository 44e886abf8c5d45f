package generator

import (
	"testing"

	"github.com/shardflow/shardflow/internal/cputime"
	"github.com/shardflow/shardflow/pipeline"
)

// BenchmarkGeneratorV0 is BenchmarkGenerator's read, with the same
// configuration, done the first way: the first encoder
// (encoder_v0_internal_test.go) into a scratch buffer, then a
// pipeline.RawBuilder. Run with BenchmarkGenerator (-bench Generator), it
// compares the two side by side.
func BenchmarkGeneratorV0(b *testing.B) {
	cfg := Config{Seed: 1, BadEvery: 5000}.withDefaults()
	p := newParams(cfg)
	rb := pipeline.NewRawBuilder(cfg.Mem)
	defer rb.Release()
	buf := make([]byte, 0, 512)
	var next int64
	ReportBatches(b, func() *pipeline.Batch {
		for range cfg.BatchSize {
			var key string
			buf, key, _ = p.appendEventV0(buf[:0], 0, next)
			next++
			rb.Append(buf, key, pipeline.Position{N: next}, 0)
		}
		return rb.NewBatch("shard-0000")
	})
}

// ReportBatches runs b's loop over the batches next makes, releasing them,
// and reports records/s, MB/s of payload and records/cpu-s; the two
// generator benchmarks measure alike through it.
func ReportBatches(b *testing.B, next func() *pipeline.Batch) {
	records, bytes := 0, int64(0)
	b.ReportAllocs()
	cpu0 := cputime.Process()
	for b.Loop() {
		batch := next()
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
