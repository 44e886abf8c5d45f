package file_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/file"
	"github.com/shardflow/shardflow/sources/generator"
)

// BenchmarkFileSource reads a 100k-line file of generator events (~20 MB)
// from the page cache, BatchSize 1000, once per iteration.
func BenchmarkFileSource(b *testing.B) {
	path := filepath.Join(b.TempDir(), "clicks.jsonl")
	ref, err := generator.NewReference(generator.Config{Shards: 1, Events: 100_000, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	var content []byte
	for i := range int64(100_000) {
		content, _, _ = ref.Append(content, 0, i)
		content = append(content, '\n')
	}
	if err := os.WriteFile(path, content, 0o644); err != nil {
		b.Fatal(err)
	}
	src, err := file.New(file.Config{Glob: path})
	if err != nil {
		b.Fatal(err)
	}
	records := 0
	b.ReportAllocs()
	b.SetBytes(int64(len(content)))
	for b.Loop() {
		r, err := src.OpenShard(b.Context(), pipeline.Shard{ID: path}, pipeline.Position{})
		if err != nil {
			b.Fatal(err)
		}
		for {
			batch, err := r.Read(b.Context())
			if pipeline.ReadEnded(err) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			records += batch.Len()
			batch.Release()
		}
		r.Close()
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}
