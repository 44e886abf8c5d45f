package bench

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/shardflow/shardflow/jobs"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/generator"
)

// BenchmarkFeaturesJob runs the whole features job (generator, JSON decoding,
// per-user one-minute tiles, the user_features table, the online rows into
// SQLite at each checkpoint) on the clickstream job's input; run it with
// BenchmarkClickstreamJob/shards=4 to compare the two side by side.
func BenchmarkFeaturesJob(b *testing.B) {
	benchJob(b, generator.Config{Shards: 4, Events: 1_000_000, Seed: 1, BadEvery: 5000}, func(dir string, src pipeline.Source) (*pipeline.Job, error) {
		return jobs.Features.Build(jobs.Env{Source: src, OutDir: filepath.Join(dir, "out"), CheckpointDir: filepath.Join(dir, "ckpt"),
			CheckpointInterval: 10 * time.Second, Features: "sqlite://" + filepath.Join(dir, "features.db")})
	})
}
