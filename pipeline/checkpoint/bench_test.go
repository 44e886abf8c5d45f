package checkpoint

import (
	"fmt"
	"testing"
	"time"

	"github.com/shardflow/shardflow/internal/ckptfmt"
	"github.com/shardflow/shardflow/pipeline"
)

// bigCheckpoint has 1,000 Kinesis shards (half with a parent) and 10 MB of
// operator state.
func bigCheckpoint(job string, id uint64) *pipeline.Checkpoint {
	cp := &pipeline.Checkpoint{
		ID: id, Job: job, Fingerprint: "sha256:0123456789abcdef", Created: time.Unix(1750000000, 0),
		Watermark: 1750000000000,
		Shards:    make(map[string]pipeline.ShardState, 1000),
		Operators: map[string][]byte{"window": make([]byte, 10<<20)},
		Sinks:     map[string][]byte{"parquet": make([]byte, 200), "dead_letters": make([]byte, 200)},
	}
	for i := range 1000 {
		s := pipeline.ShardState{
			Position:     pipeline.Position{Seq: fmt.Sprintf("495903382714902566085596925383615710959215759891365%05d", i), N: int64(i % 7)},
			MaxEventTime: 1750000000000 + int64(i),
		}
		if i%2 == 1 {
			s.Parents = []string{fmt.Sprintf("shardId-%012d", i-1)}
		}
		cp.Shards[fmt.Sprintf("shardId-%012d", i)] = s
	}
	for i := range cp.Operators["window"] {
		cp.Operators["window"][i] = byte(i * 131)
	}
	return cp
}

func encodedSize(b *testing.B, cp *pipeline.Checkpoint) int64 {
	data, err := ckptfmt.Encode(cp)
	if err != nil {
		b.Fatal(err)
	}
	return int64(len(data))
}

// benchLock acquires d's lock on the job "bench" for the benchmark and returns
// its epoch.
func benchLock(b *testing.B, d *Dir) uint64 {
	l, err := d.Acquire(b.Context(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = l.Release() })
	return l.Epoch()
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ckpts/s")
}

// BenchmarkSave: encode, write, fsync, rename, fsync the directory, and
// delete the checkpoint beyond Keep.
func BenchmarkSave(b *testing.B) {
	d, err := NewDir(b.TempDir(), DirConfig{})
	if err != nil {
		b.Fatal(err)
	}
	cp := bigCheckpoint("bench", 0)
	cp.Epoch = benchLock(b, d)
	b.SetBytes(encodedSize(b, cp))
	for b.Loop() {
		cp.ID++
		if err := d.Save(b.Context(), cp); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b)
}

// BenchmarkLatest: read and decode the newest checkpoint.
func BenchmarkLatest(b *testing.B) {
	d, err := NewDir(b.TempDir(), DirConfig{})
	if err != nil {
		b.Fatal(err)
	}
	cp := bigCheckpoint("bench", 1)
	cp.Epoch = benchLock(b, d)
	if err := d.Save(b.Context(), cp); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(encodedSize(b, cp))
	for b.Loop() {
		got, err := d.Latest(b.Context(), "bench")
		if err != nil || got.ID != 1 {
			b.Fatal(got, err)
		}
	}
	reportRate(b)
}

// BenchmarkSaveLatest: a checkpoint's round trip through the disk; bytes
// count the encoding once.
func BenchmarkSaveLatest(b *testing.B) {
	d, err := NewDir(b.TempDir(), DirConfig{})
	if err != nil {
		b.Fatal(err)
	}
	cp := bigCheckpoint("bench", 0)
	cp.Epoch = benchLock(b, d)
	b.SetBytes(encodedSize(b, cp))
	for b.Loop() {
		cp.ID++
		if err := d.Save(b.Context(), cp); err != nil {
			b.Fatal(err)
		}
		got, err := d.Latest(b.Context(), "bench")
		if err != nil || got.ID != cp.ID {
			b.Fatal(got, err)
		}
	}
	reportRate(b)
}
