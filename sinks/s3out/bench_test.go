package s3out_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/shardflow/shardflow/internal/cputime"
	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sinks/parquet"
	"github.com/shardflow/shardflow/sinks/s3out"
)

// BenchmarkUpload measures what the Files upload to the in-process S3
// server (gofakes3 over loopback HTTP), per wall-second (MB/s) and per
// CPU-second of the whole process, server included (MB/cpu-s): one 64 MiB
// file written in 256 KiB writes, uploaded in 8 MiB parts and completed at
// the commit, with a checkpoint at the end only ("roll") or every 2 MiB
// ("ckpt-2MiB", which puts tails below 5 MiB up as temporary objects and
// parts of at least 5 MiB).
//
//	go test -run '^$' -bench BenchmarkUpload -count 6 ./sinks/s3out
func BenchmarkUpload(b *testing.B) {
	const fileSize, write = 64 << 20, 256 << 10
	chunk := make([]byte, write)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range chunk {
		chunk[i] = byte(rng.Uint32())
	}
	footer := []byte("\x00\x00\x00\x00PAR1")
	for _, every := range []int{0, 2 << 20} {
		name := "roll"
		if every > 0 {
			name = fmt.Sprintf("ckpt-%dMiB", every>>20)
		}
		b.Run(name, func(b *testing.B) {
			srv := testenv.StartS3(b, bucket)
			ctx := context.Background()
			b.SetBytes(fileSize)
			cpu0 := cputime.Process()
			b.ResetTimer()
			for i := range b.N {
				files, err := s3out.New(s3out.Config{Client: srv.Client, Bucket: bucket, Prefix: fmt.Sprintf("b%d", i), Table: table})
				if err != nil {
					b.Fatal(err)
				}
				if err := files.Recover(ctx, pipeline.Recovery{Job: "bench", Run: "r1"}); err != nil {
					b.Fatal(err)
				}
				f, err := files.Create("dt=2026-03-01/hour=22", 0)
				if err != nil {
					b.Fatal(err)
				}
				id := uint64(0)
				for n := 0; n < fileSize; n += write {
					if _, err := f.Write(chunk); err != nil {
						b.Fatal(err)
					}
					if every > 0 && (n+write)%every == 0 && n+write < fileSize {
						if err := f.(parquet.SpanningFile).Checkpoint(footer); err != nil {
							b.Fatal(err)
						}
						id++
						h, err := files.PreCommit(ctx, id)
						if err != nil {
							b.Fatal(err)
						}
						if err := files.Commit(ctx, id, h); err != nil {
							b.Fatal(err)
						}
					}
				}
				if err := f.Finish(); err != nil {
					b.Fatal(err)
				}
				id++
				h, err := files.PreCommit(ctx, id)
				if err != nil {
					b.Fatal(err)
				}
				if err := files.Commit(ctx, id, h); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if cpu := cputime.Process() - cpu0; cpu > 0 {
				b.ReportMetric(float64(fileSize)*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
			}
		})
	}
}
