package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/internal/cputime"
	"github.com/shardflow/shardflow/internal/pebblestate"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/windows"
)

// usersSchema is the input of BenchmarkDistinctUsersState.
var usersSchema = arrow.NewSchema([]arrow.Field{
	{Name: "page", Type: arrow.BinaryTypes.String},
	{Name: "user_id", Type: arrow.BinaryTypes.String},
	{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_ms},
}, nil)

// stateRun is what one run of the distinct users window cost.
type stateRun struct {
	peakHeap uint64
	wall     time.Duration
	cpu      time.Duration
	users    int64 // the window's distinct users, summed over pages
	spills   int64
	estimate int64 // the operator's estimate of its state before firing
}

// runDistinctUsers feeds one one-hour window, keyed by 10 pages, events of
// users distinct users (each twice, on random pages and of 4 shards, in a
// random order) with a state limit (0: none) and spill stores under dir, and
// fires it.
func runDistinctUsers(tb testing.TB, users int, limit int64, dir string) stateRun {
	tb.Helper()
	spec := windows.Tumbling(time.Hour).Aggregate(windows.Count("events"), windows.CountDistinct("unique_users", "user_id"))
	st, err := spec.KeyedStage([]string{"page"}, "ts")
	if err != nil {
		tb.Fatal(err)
	}
	_, newOp, err := st.Bind(usersSchema)
	if err != nil {
		tb.Fatal(err)
	}
	env := pipeline.OperatorEnv{Mem: memory.DefaultAllocator, State: pipeline.StateConfig{Limit: limit}}
	if limit > 0 {
		env.State.Spill = pebblestate.Opener(dir)
	}
	op, err := newOp(env)
	if err != nil {
		tb.Fatal(err)
	}
	keyed := op.(pipeline.KeyedOperator)
	ctx := context.Background()

	runtime.GC()
	stop, peaks := make(chan struct{}), make(chan [2]uint64)
	go samplePeaks(stop, peaks)
	start, cpu := time.Now(), cputime.Process()

	const batch = 8192
	rng := rand.New(rand.NewPCG(1, 2))
	perm := rand.New(rand.NewPCG(3, 4)).Perm(users)
	pages := make([]string, 10)
	for i := range pages {
		pages[i] = fmt.Sprintf("/page/%d", i)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, usersSchema)
	pb, ub, tsb := b.Field(0).(*array.StringBuilder), b.Field(1).(*array.StringBuilder), b.Field(2).(*array.TimestampBuilder)
	for i := range 2 * users {
		pb.Append(pages[rng.IntN(len(pages))])
		ub.Append(fmt.Sprintf("user-%09d", perm[i%users]))
		tsb.Append(arrow.Timestamp(1_700_000_000_000 + int64(i%1000)))
		if (i+1)%batch == 0 || i == 2*users-1 {
			rec := b.NewRecordBatch()
			shard := fmt.Sprintf("shard-%d", rng.IntN(4))
			if err := keyed.Process(ctx, &pipeline.Batch{Rec: rec, Shard: shard, Before: pipeline.MinTime}, nil); err != nil {
				tb.Fatal(err)
			}
		}
	}
	b.Release()
	estimate := op.(pipeline.CounterReporter).Counters()["state_bytes"]

	var got int64
	err = keyed.OnWatermark(ctx, pipeline.MaxTime, func(out *pipeline.Batch) {
		col := out.Rec.Column(out.Rec.Schema().FieldIndices("unique_users")[0]).(*array.Int64)
		for i := range col.Len() {
			got += col.Value(i)
		}
		out.Release()
	})
	if err != nil {
		tb.Fatal(err)
	}
	counters := op.(pipeline.CounterReporter).Counters()
	wall, cpu := time.Since(start), cputime.Process()-cpu
	close(stop)
	peak := <-peaks
	if err := pipeline.CloseOperators(op); err != nil {
		tb.Fatal(err)
	}
	return stateRun{peakHeap: peak[0], wall: wall, cpu: cpu, users: got, spills: counters["state_spills"], estimate: estimate}
}

// BenchmarkDistinctUsersState runs one window holding SHARDFLOW_BENCH_USERS
// distinct users (default 5,000,000) in memory and with a state limit of
// SHARDFLOW_BENCH_STATE_LIMIT_MB (default 128) and spill stores, alternately,
// SHARDFLOW_BENCH_ROUNDS times (default 3), and reports the median peak heap
// and time of each, and the operator's estimate of its state before firing.
// Both must count the same users.
//
// The state limit bounds the state's live bytes; the Go heap holds garbage
// on top of them (up to as much again under GOGC=100) until the process has a
// soft memory limit. Run it with one twice the state limit:
//
//	GOMEMLIMIT=256MiB go test -run '^$' -bench DistinctUsersState -benchtime 1x -timeout 60m ./bench
func BenchmarkDistinctUsersState(b *testing.B) {
	users := benchEnv("SHARDFLOW_BENCH_USERS", 5_000_000)
	limit := int64(benchEnv("SHARDFLOW_BENCH_STATE_LIMIT_MB", 128)) << 20
	rounds := benchEnv("SHARDFLOW_BENCH_ROUNDS", 3)
	for range b.N {
		var mem, spill []stateRun
		for r := range rounds {
			m := runDistinctUsers(b, users, 0, "")
			s := runDistinctUsers(b, users, limit, b.TempDir())
			b.Logf("round %d: memory: peak heap %d MiB, state %d MiB, %v (cpu %v); spill: peak heap %d MiB, state %d MiB, %v (cpu %v); %d users by page",
				r, m.peakHeap>>20, m.estimate>>20, m.wall.Round(time.Millisecond), m.cpu.Round(time.Millisecond),
				s.peakHeap>>20, s.estimate>>20, s.wall.Round(time.Millisecond), s.cpu.Round(time.Millisecond), m.users)
			if m.users != s.users || s.spills == 0 {
				b.Fatalf("round %d: %d users in memory, %d spilling (%d spills)", r, m.users, s.users, s.spills)
			}
			mem, spill = append(mem, m), append(spill, s)
		}
		med := func(rs []stateRun, f func(stateRun) float64) float64 {
			v := make([]float64, len(rs))
			for i, r := range rs {
				v[i] = f(r)
			}
			slices.Sort(v)
			return v[len(v)/2]
		}
		heap := func(r stateRun) float64 { return float64(r.peakHeap) / (1 << 20) }
		secs := func(r stateRun) float64 { return r.wall.Seconds() }
		b.ReportMetric(med(mem, heap), "memory-peak-MiB")
		b.ReportMetric(med(spill, heap), "spill-peak-MiB")
		b.ReportMetric(med(mem, secs), "memory-s")
		b.ReportMetric(med(spill, secs), "spill-s")
		b.ReportMetric(float64(limit>>20), "limit-MiB")
		b.ReportMetric(med(mem, func(r stateRun) float64 { return float64(r.estimate) / (1 << 20) }), "memory-state-MiB")
	}
}

// TestDistinctUsersSpillSmall is the benchmark's check on a small window:
// spilling counts the same users, and the peak heap stays below the one in
// memory.
func TestDistinctUsersSpillSmall(t *testing.T) {
	m := runDistinctUsers(t, 200_000, 0, "")
	s := runDistinctUsers(t, 200_000, 8<<20, t.TempDir())
	if m.users != s.users || s.spills == 0 {
		t.Fatalf("%d users in memory, %d spilling (%d spills)", m.users, s.users, s.spills)
	}
}
