package bench

import (
	"context"
	"fmt"
	"github.com/shardflow/shardflow/internal/testenv"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/internal/arrowpool"
	"github.com/shardflow/shardflow/internal/cputime"
	"github.com/shardflow/shardflow/jobs"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/generator"
)

// allocators are the contenders of BenchmarkClickstreamMemory: arrow-go's
// default (a GoAllocator, every buffer left to the garbage collector) and
// a fresh arrowpool.Pool per run.
var allocators = []struct {
	name string
	new  func(testing.TB) (memory.Allocator, *arrowpool.Pool)
}{
	{"default", func(testing.TB) (memory.Allocator, *arrowpool.Pool) { return memory.DefaultAllocator, nil }},
	{"arrowpool", func(tb testing.TB) (memory.Allocator, *arrowpool.Pool) {
		p, err := arrowpool.New(arrowpool.Config{MaxRetained: int64(benchEnv("SHARDFLOW_BENCH_POOL_RETAINED_MB", 0)) << 20})
		if err != nil {
			tb.Fatal(err)
		}
		return p, p
	}},
}

// memRun is what one run of the job cost in memory.
type memRun struct {
	allocBytes uint64 // runtime.MemStats.TotalAlloc delta
	gcs        uint32 // runtime.MemStats.NumGC delta
	peakHeap   uint64 // max of /memory/classes/heap/objects:bytes sampled
	peakMapped uint64 // max of total minus released sampled (Sys - HeapReleased)
	peakRSS    uint64 // VmHWM after clearing it, 0 where unknown
	cpu        time.Duration
}

// runClickstream runs the clickstream job once over a generator of events
// across shards, with mem allocating both the source's batches and the
// job's, and measures it. dir receives the output.
func runClickstream(tb testing.TB, mem memory.Allocator, dir string, shards int, events int64) memRun {
	tb.Helper()
	src, err := generator.New(generator.Config{
		Shards: shards, Events: events, Seed: 1, BadEvery: 5000, Mem: mem,
		BatchSize: benchEnv("SHARDFLOW_BENCH_BATCH", generator.DefaultBatchSize),
	})
	if err != nil {
		tb.Fatal(err)
	}
	job, err := jobs.Clickstream.Build(jobs.Env{
		Source: src, OutDir: filepath.Join(dir, "out"), CheckpointDir: filepath.Join(dir, "ckpt"),
		CheckpointInterval: 10 * time.Second,
		Options:            []pipeline.Option{pipeline.WithAllocator(mem)},
	})
	if err != nil {
		tb.Fatal(err)
	}

	runtime.GC()
	resetPeakRSS()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu := cputime.Process()
	stop := make(chan struct{})
	peaks := make(chan [2]uint64)
	go samplePeaks(stop, peaks)
	err = job.Run(context.Background())
	close(stop)
	peak := <-peaks
	cpu = cputime.Process() - cpu
	runtime.ReadMemStats(&after)
	if err != nil {
		tb.Fatal(err)
	}
	if st := job.Stats(); st.RecordsIn != events || !st.Finished {
		tb.Fatalf("read %d records, finished %v", st.RecordsIn, st.Finished)
	}
	return memRun{
		allocBytes: after.TotalAlloc - before.TotalAlloc,
		gcs:        after.NumGC - before.NumGC,
		peakHeap:   peak[0],
		peakMapped: peak[1],
		peakRSS:    peakRSS(),
		cpu:        cpu,
	}
}

// samplePeaks reads the heap's size every millisecond until stop closes,
// then sends the maxima of the live-and-unswept object bytes and of the
// mapped, unreleased bytes.
func samplePeaks(stop <-chan struct{}, out chan<- [2]uint64) {
	s := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	var peak [2]uint64
	profile, profiled := os.Getenv("SHARDFLOW_BENCH_PEAK_HEAPPROFILE"), uint64(0)
	read := func() {
		metrics.Read(s)
		peak[0] = max(peak[0], s[0].Value.Uint64())
		peak[1] = max(peak[1], s[1].Value.Uint64()-s[2].Value.Uint64())
		if profile != "" && peak[0] > profiled+profiled/10 {
			profiled = peak[0]
			writeHeapProfile(profile)
		}
	}
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for {
		read()
		select {
		case <-stop:
			read()
			out <- peak
			return
		case <-t.C:
		}
	}
}

// writeHeapProfile writes the heap profile (the live objects as of the
// latest collection) to path, and the goroutines (stacks with counts: where
// the shard tasks wait holding their batches) to path + ".goroutines", for
// SHARDFLOW_BENCH_PEAK_HEAPPROFILE: the last ones written are the nearest to
// the peak.
func writeHeapProfile(path string) {
	for name, file := range map[string]string{"heap": path, "goroutine": path + ".goroutines"} {
		f, err := os.Create(file)
		if err != nil {
			return
		}
		debug := 0
		if name == "goroutine" {
			debug = 1
		}
		_ = pprof.Lookup(name).WriteTo(f, debug)
		f.Close()
	}
}

// resetPeakRSS clears the kernel's high-water mark of the process's
// resident set (Linux), so peakRSS measures from here.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS returns VmHWM from /proc/self/status, 0 where there is none.
func peakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb uint64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// BenchmarkClickstreamMemory runs the clickstream job (as
// BenchmarkClickstreamJob does) with each allocator side by side, on 4
// shards and on 1,000, and reports per 1 M records the bytes allocated and
// the collections, and per run the peak heap, the peak mapped heap and the
// peak resident set.
//
//	go test -run '^$' -bench ClickstreamMemory -benchtime 1x -count 5 ./bench
//
// SHARDFLOW_BENCH_EVENTS sets the events per run (default 1,000,000; on
// 1,000 shards that is one batch per shard), SHARDFLOW_BENCH_BATCH the
// generator's batch size (default 1,000), SHARDFLOW_BENCH_POOL_RETAINED_MB
// the pool's MaxRetained (default arrowpool.DefaultMaxRetained).
// SHARDFLOW_BENCH_PEAK_HEAPPROFILE=FILE writes a heap profile near each
// run's peak (run one sub-benchmark at a time), for
// go tool pprof -sample_index=inuse_space.
func BenchmarkClickstreamMemory(b *testing.B) {
	events := int64(benchEnv("SHARDFLOW_BENCH_EVENTS", 1_000_000))
	for _, shards := range []int{4, 1000} {
		for _, a := range allocators {
			b.Run(fmt.Sprintf("shards=%d/alloc=%s", shards, a.name), func(b *testing.B) {
				var sum memRun
				var hits, misses int64
				for range b.N {
					mem, pool := a.new(b)
					r := runClickstream(b, mem, b.TempDir(), shards, events)
					sum.allocBytes += r.allocBytes
					sum.gcs += r.gcs
					sum.cpu += r.cpu
					sum.peakHeap = max(sum.peakHeap, r.peakHeap)
					sum.peakMapped = max(sum.peakMapped, r.peakMapped)
					sum.peakRSS = max(sum.peakRSS, r.peakRSS)
					if pool != nil {
						st := pool.Stats()
						hits, misses = hits+st.Hits, misses+st.Misses
					}
				}
				perM := float64(b.N) * float64(events) / 1e6
				b.ReportMetric(float64(sum.allocBytes)/perM/(1<<20), "alloc-MB/1M-rec")
				b.ReportMetric(float64(sum.gcs)/perM, "GCs/1M-rec")
				b.ReportMetric(float64(sum.peakHeap)/(1<<20), "peak-heap-MB")
				b.ReportMetric(float64(sum.peakMapped)/(1<<20), "peak-mapped-MB")
				if sum.peakRSS > 0 {
					b.ReportMetric(float64(sum.peakRSS)/(1<<20), "peak-RSS-MB")
				}
				b.ReportMetric(float64(events)*float64(b.N)/sum.cpu.Seconds(), "records/cpu-s")
				if hits+misses > 0 {
					b.ReportMetric(100*float64(hits)/float64(hits+misses), "pool-hit-%")
				}
			})
		}
	}
}

// TestClickstreamSameWithPool runs the clickstream job with
// memory.GoAllocator and with an arrowpool.Pool under a CheckedAllocator,
// and wants the same page_stats rows and dead letters from both and every
// pooled byte released: a buffer recycled while something still read it
// would change the output.
func TestClickstreamSameWithPool(t *testing.T) {
	const shards, events = 4, 60_000
	wantDir := t.TempDir()
	runClickstream(t, memory.NewGoAllocator(), wantDir, shards, events)

	pool, err := arrowpool.New(arrowpool.Config{})
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(pool)
	gotDir := t.TempDir()
	runClickstream(t, mem, gotDir, shards, events)
	mem.AssertSize(t, 0)
	if st := pool.Stats(); st.Hits == 0 {
		t.Errorf("pool stats %+v: no buffer was reused, the test proves nothing", st)
	}

	want, got := testenv.ParquetRows(t, filepath.Join(wantDir, "out", "page_stats")), testenv.ParquetRows(t, filepath.Join(gotDir, "out", "page_stats"))
	if len(want) == 0 {
		t.Fatal("the job wrote no page_stats rows")
	}
	if !slices.Equal(want, got) {
		t.Fatalf("page_stats differs: %d rows with the pool, %d without; first with: %v, without: %v", len(got), len(want), got[:min(3, len(got))], want[:min(3, len(want))])
	}
	wantDead, gotDead := deadLetterLines(t, wantDir), deadLetterLines(t, gotDir)
	if len(wantDead) == 0 || len(wantDead) != len(gotDead) {
		t.Fatalf("dead letters: %d with the pool, %d without", len(gotDead), len(wantDead))
	}
	for i := range wantDead {
		if gotDead[i] != wantDead[i] {
			t.Fatalf("dead letter %d differs:\nwith the pool: %q\n      without: %q", i, gotDead[i], wantDead[i])
		}
	}
}

// deadLetterLines returns the dead-letter records under dir, sorted.
func deadLetterLines(t *testing.T, dir string) []string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(filepath.Join(dir, "out", "dead_letter"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasPrefix(d.Name(), "part-") {
			return err // the rest is the commit log, which names the run
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for l := range strings.Lines(string(b)) {
			lines = append(lines, l)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(lines)
	return lines
}
