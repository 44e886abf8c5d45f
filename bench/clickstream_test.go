package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shardflow/shardflow/internal/arrowpool"
	"github.com/shardflow/shardflow/internal/cputime"
	"github.com/shardflow/shardflow/internal/memsource"
	"github.com/shardflow/shardflow/jobs"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/generator"
)

// BenchmarkClickstreamJob runs the whole clickstream job (generator, JSON
// decoding, 1-minute windows with exact distinct users, Parquet and dead
// letters, local checkpoints) on 1 and on 4 shards side by side, and reports
// records/s and records per CPU-second. On 4 shards it runs the window stage
// as one instance and as GOMAXPROCS instances (the default), so that with
// -cpu 1,2 one run shows what the second core and the partitions each bring.
func BenchmarkClickstreamJob(b *testing.B) {
	const events = 1_000_000
	cases := []struct{ shards, parallelism int }{{1, 0}, {4, 1}, {4, 0}}
	for _, c := range cases {
		name := fmt.Sprintf("shards=%d", c.shards)
		if c.parallelism > 0 {
			name += fmt.Sprintf("/parallelism=%d", c.parallelism)
		}
		shards := c.shards
		var opts []pipeline.Option
		if c.parallelism > 0 {
			opts = append(opts, pipeline.WithParallelism(c.parallelism))
		}
		b.Run(name, func(b *testing.B) {
			benchJob(b, generator.Config{Shards: shards, Events: events, Seed: 1, BadEvery: 5000}, func(dir string, src pipeline.Source) (*pipeline.Job, error) {
				return jobs.Clickstream.Build(jobs.Env{Source: src, OutDir: dir + "/out", CheckpointDir: dir + "/ckpt", CheckpointInterval: 10 * time.Second, Options: opts})
			})
		})
	}
}

// BenchmarkClickstreamJobWithoutSource runs the same job on 4 shards of the
// same events, once read from the generator and once from the generator's
// batches captured in memory beforehand (internal/memsource), side by side:
// the second is the pipeline's own cost (decode, windows, Parquet, dead
// letters, checkpoints), the difference the source's. The last case gives the
// job the buffer pool that the shardflow command gives it.
func BenchmarkClickstreamJobWithoutSource(b *testing.B) {
	cfg := generator.Config{Shards: 4, Events: 1_000_000, Seed: 1, BadEvery: 5000}
	build := func(dir string, src pipeline.Source) (*pipeline.Job, error) {
		return jobs.Clickstream.Build(jobs.Env{Source: src, OutDir: dir + "/out", CheckpointDir: dir + "/ckpt", CheckpointInterval: 10 * time.Second})
	}
	pool, err := arrowpool.New(arrowpool.Config{})
	if err != nil {
		b.Fatal(err)
	}
	pooled := func(dir string, src pipeline.Source) (*pipeline.Job, error) {
		return jobs.Clickstream.Build(jobs.Env{Source: src, OutDir: dir + "/out", CheckpointDir: dir + "/ckpt", CheckpointInterval: 10 * time.Second,
			Options: []pipeline.Option{pipeline.WithAllocator(pool)}})
	}
	gen, err := generator.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	mem, err := memsource.Capture(b.Context(), gen)
	if err != nil {
		b.Fatal(err)
	}
	defer mem.Release()
	b.Run("source=generator", func(b *testing.B) { benchJob(b, cfg, build) })
	fromMemory := func() (pipeline.Source, error) { return mem, nil }
	b.Run("source=memory", func(b *testing.B) { benchJobOn(b, cfg.Events, fromMemory, build) })
	b.Run("source=memory/alloc=pool", func(b *testing.B) { benchJobOn(b, cfg.Events, fromMemory, pooled) })
}

// benchJob runs the job that build makes on a generator of cfg in a fresh
// directory b.N times, and reports records/s and records per CPU-second.
func benchJob(b *testing.B, cfg generator.Config, build func(dir string, src pipeline.Source) (*pipeline.Job, error)) {
	benchJobOn(b, cfg.Events, func() (pipeline.Source, error) { return generator.New(cfg) }, build)
}

// benchJobOn runs the job that build makes on the source that newSource
// makes, of events records, in a fresh directory b.N times, and reports
// records/s and records per CPU-second.
func benchJobOn(b *testing.B, events int64, newSource func() (pipeline.Source, error), build func(dir string, src pipeline.Source) (*pipeline.Job, error)) {
	var cpu time.Duration
	for range b.N {
		src, err := newSource()
		if err != nil {
			b.Fatal(err)
		}
		job, err := build(b.TempDir(), src)
		if err != nil {
			b.Fatal(err)
		}
		before := cputime.Process()
		if err := job.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		cpu += cputime.Process() - before
		if st := job.Stats(); st.RecordsIn != events || !st.Finished {
			b.Fatalf("read %d records, finished %v", st.RecordsIn, st.Finished)
		}
	}
	b.ReportMetric(float64(events*int64(b.N))/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(events*int64(b.N))/cpu.Seconds(), "records/cpu-s")
}
