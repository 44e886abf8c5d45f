package bench

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/shardflow/shardflow/internal/cputime"
	"github.com/shardflow/shardflow/jobs"
	"github.com/shardflow/shardflow/sources/generator"
)

// BenchmarkFeaturesJob runs the whole features job (generator, JSON decoding,
// per-user one-minute tiles, the user_features table, the online rows into
// SQLite at each checkpoint) on the clickstream job's input; run it with
// BenchmarkClickstreamJob/shards=4 to compare the two side by side.
func BenchmarkFeaturesJob(b *testing.B) {
	const events = 1_000_000
	var cpu time.Duration
	for range b.N {
		dir := b.TempDir()
		src, err := generator.New(generator.Config{Shards: 4, Events: events, Seed: 1, BadEvery: 5000})
		if err != nil {
			b.Fatal(err)
		}
		job, err := jobs.Features.Build(jobs.Env{Source: src, OutDir: filepath.Join(dir, "out"), CheckpointDir: filepath.Join(dir, "ckpt"),
			CheckpointInterval: 10 * time.Second, Features: "sqlite://" + filepath.Join(dir, "features.db")})
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
	b.ReportMetric(float64(events*b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(events*b.N)/cpu.Seconds(), "records/cpu-s")
}
