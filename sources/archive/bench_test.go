package archive_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/archive"
	"github.com/shardflow/shardflow/sources/generator"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkArchive reads a 100k-line object of generator events (~20 MB
// decompressed) from the page cache, plain and gzip (default level), once
// per iteration, and reports records per CPU-second of the process.
func BenchmarkArchive(b *testing.B) {
	ref, err := generator.NewReference(generator.Config{Shards: 1, Events: 100_000, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	var content []byte
	for i := range int64(100_000) {
		content, _, _ = ref.Append(content, 0, i)
		content = append(content, '\n')
	}
	dir := b.TempDir()
	for _, name := range []string{"plain.jsonl", "gzip.jsonl.gz"} {
		b.Run(map[string]string{"plain.jsonl": "plain", "gzip.jsonl.gz": "gzip"}[name], func(b *testing.B) {
			path := filepath.Join(dir, name)
			data := content
			if filepath.Ext(name) == ".gz" {
				data = gz(b, string(content))
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				b.Fatal(err)
			}
			src, err := archive.New(context.Background(), archive.Config{URL: path})
			if err != nil {
				b.Fatal(err)
			}
			records := 0
			b.SetBytes(int64(len(content)))
			cpu0 := cpuTime()
			for b.Loop() {
				r, err := src.OpenShard(b.Context(), pipeline.Shard{ID: path}, pipeline.Position{})
				if err != nil {
					b.Fatal(err)
				}
				for {
					batch, err := r.Read(b.Context())
					if batch != nil {
						records += batch.Len()
						batch.Release()
					}
					if pipeline.ReadEnded(err) {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				r.Close()
			}
			b.ReportMetric(float64(records)/(cpuTime()-cpu0).Seconds(), "records/cpu-s")
		})
	}
}
