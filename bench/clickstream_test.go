package bench

import (
	"context"
	"fmt"
	"github.com/shardflow/shardflow/internal/cputime"
	"testing"
	"time"

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

// benchJob runs the job that build makes on a generator of cfg in a fresh
// directory b.N times, and reports records/s and records per CPU-second.
func benchJob(b *testing.B, cfg generator.Config, build func(dir string, src pipeline.Source) (*pipeline.Job, error)) {
	var cpu time.Duration
	for range b.N {
		src, err := generator.New(cfg)
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
		if st := job.Stats(); st.RecordsIn != cfg.Events || !st.Finished {
			b.Fatalf("read %d records, finished %v", st.RecordsIn, st.Finished)
		}
	}
	b.ReportMetric(float64(cfg.Events*int64(b.N))/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(cfg.Events*int64(b.N))/cpu.Seconds(), "records/cpu-s")
}
