package windows

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/shardflow/shardflow/pipeline"
)

func tsRow(page *string, ts int64) row { return row{page: page, event: "view", ts: &ts} }

func TestFiringOrderAndLateRows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	op := newTestOp(t, mem, Tumbling(time.Minute).Aggregate(Count("n")), []string{"page"})
	x, a := ptr("x"), ptr("a")
	steps := []step{
		{shard: "b", rows: []row{tsRow(x, 30_000), tsRow(a, 70_000), tsRow(a, 190_000)}},
		{shard: "a", rows: []row{tsRow(x, 10_000), tsRow(x, 59_999), tsRow(nil, 125_000)}},
		{wm: ptr[int64](59_999)}, // nothing ends by then
		{wm: ptr[int64](60_000)}, // fires [0, 1m)
		{wm: ptr[int64](50_000)}, // going back does nothing
		{shard: "c", rows: []row{tsRow(x, 59_000), tsRow(x, 60_000)}}, // the first finds its window fired
		{wm: ptr[int64](pipeline.MaxTime)},
	}
	got := runSteps(t, mem, op, steps)
	want := []fired{
		{},
		{rows: []string{"0|60000|x|3"}, batches: 1, minT: 0, maxT: 60_000},
		{},
		{rows: []string{
			"60000|120000|a|1", "60000|120000|x|1",
			"120000|180000|null|1",
			"180000|240000|a|1",
		}, batches: 1, minT: 60_000, maxT: 240_000},
	}
	compareFired(t, got, want)
	c := op.Counters()
	wantC := map[string]int64{"rows_in": 8, "late_rows": 1, "windows_fired": 4, "open_windows": 0, "null_time_rows": 0}
	for k, v := range wantC {
		if c[k] != v {
			t.Errorf("counter %s = %d, want %d", k, c[k], v)
		}
	}
}

func TestOpenWindowsCounter(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	op := newTestOp(t, mem, Tumbling(time.Minute).Aggregate(Count("n")), []string{"page"})
	x := ptr("x")
	runSteps(t, mem, op, []step{
		{shard: "a", rows: []row{tsRow(x, 1), tsRow(x, 60_001), {page: x}}},
		{shard: "b", rows: []row{tsRow(x, 2), tsRow(x, 120_001)}},
	})
	c := op.Counters()
	if c["open_windows"] != 3 || c["null_time_rows"] != 1 || c["rows_in"] != 5 {
		t.Fatalf("counters %v", c)
	}
	runSteps(t, mem, op, []step{{wm: ptr[int64](pipeline.MaxTime)}})
}

func TestEventTimeUnits(t *testing.T) {
	for _, unit := range []arrow.TimeUnit{arrow.Second, arrow.Millisecond, arrow.Microsecond, arrow.Nanosecond} {
		t.Run(unit.String(), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			typ := &arrow.TimestampType{Unit: unit, TimeZone: "UTC"}
			schema := arrow.NewSchema([]arrow.Field{{Name: "t", Type: typ}}, nil)
			st, err := Tumbling(time.Second).Aggregate(Count("n"), Min("first", "t")).KeyedStage(nil, "t")
			if err != nil {
				t.Fatal(err)
			}
			_, newOp, err := st.Bind(schema)
			if err != nil {
				t.Fatal(err)
			}
			op, err := newOp(pipeline.OperatorEnv{Mem: mem, Bound: 10_000}) // the rows are out of order by 2 s
			if err != nil {
				t.Fatal(err)
			}
			perMs := map[arrow.TimeUnit]int64{arrow.Second: 0, arrow.Millisecond: 1, arrow.Microsecond: 1000, arrow.Nanosecond: 1_000_000}[unit]
			b := array.NewTimestampBuilder(mem, typ)
			defer b.Release()
			var vals []int64
			if unit == arrow.Second {
				vals = []int64{-2, -1, 0, 1}
			} else {
				vals = []int64{-1, 0, 999 * perMs, 1000 * perMs, -1000 * perMs, -1000*perMs - 1}
			}
			for _, v := range vals {
				b.Append(arrow.Timestamp(v))
			}
			arr := b.NewArray()
			rec := array.NewRecordBatch(schema, []arrow.Array{arr}, int64(arr.Len()))
			arr.Release()
			ctx := context.Background()
			if err := op.Process(ctx, &pipeline.Batch{Rec: rec, Shard: "s", Before: pipeline.MinTime}, nil); err != nil {
				t.Fatal(err)
			}
			var rows []string
			err = op.(pipeline.KeyedOperator).OnWatermark(ctx, pipeline.MaxTime, func(b *pipeline.Batch) {
				rows = append(rows, recordRows(b.Rec)...)
				b.Release()
			})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			if unit == arrow.Second {
				want = []string{"-2000|-1000|1|-2", "-1000|0|1|-1", "0|1000|1|0", "1000|2000|1|1"}
			} else {
				want = []string{
					"-2000|-1000|1|" + itoa(-1000*perMs-1),
					"-1000|0|2|" + itoa(-1000*perMs),
					"0|1000|2|0",
					"1000|2000|1|" + itoa(1000*perMs),
				}
			}
			if !slices.Equal(rows, want) {
				t.Fatalf("rows %q, want %q", rows, want)
			}
		})
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func binaryAppendCRC(body []byte) []byte {
	data := slices.Clone(body)
	return binary.LittleEndian.AppendUint32(data, crc32.Checksum(data, castagnoli))
}

func TestProcessRejectsOtherSchema(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	op := newTestOp(t, mem, Tumbling(time.Minute).Aggregate(Count("n")), nil)
	schema := arrow.NewSchema([]arrow.Field{{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_ms}}, nil)
	b := array.NewRecordBuilder(mem, schema)
	b.Field(0).(*array.TimestampBuilder).Append(1)
	rec := b.NewRecordBatch()
	b.Release()
	err := op.Process(context.Background(), &pipeline.Batch{Rec: rec}, nil)
	if err == nil || !strings.Contains(err.Error(), "differs from the bound schema") {
		t.Fatalf("error %v", err)
	}
}

// TestSnapshotRestoreEquivalence snapshots the operator after every step of a
// script and continues with a fresh operator restored from it; the output
// must be exactly that of an uninterrupted run.
func TestSnapshotRestoreEquivalence(t *testing.T) {
	tests := []struct {
		name string
		spec *Spec
		keys []string
	}{
		{"tumbling by page", Tumbling(10 * time.Second).Aggregate(refAggs()...), []string{"page"}},
		{"multi-key", Tumbling(5 * time.Second).Aggregate(refAggs()...), []string{"page", "qty", "flag"}},
		{"sliding", Sliding(9*time.Second, 3*time.Second).Aggregate(refAggs()...), []string{"uid"}},
		{"no key", Tumbling(5 * time.Second).Aggregate(refAggs()...), nil},
		{"dense distinct", Tumbling(30 * time.Second).Aggregate(refAggs()...), []string{"flag"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			steps := randomSteps(rand.New(rand.NewPCG(7, 7)), 50, 1_700_000_000_000)
			straight := newTestOp(t, mem, tt.spec, tt.keys)
			want := runSteps(t, mem, straight, steps)

			op := newTestOp(t, mem, tt.spec, tt.keys)
			var got []fired
			for i := range steps {
				got = append(got, runSteps(t, mem, op, steps[i:i+1])...)
				state, err := op.Snapshot()
				if err != nil {
					t.Fatal(err)
				}
				op = newTestOp(t, mem, tt.spec, tt.keys)
				if err := op.Restore(state); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			compareFired(t, got, want)
			if gc, wc := countsOnly(op.Counters()), countsOnly(straight.Counters()); !maps.Equal(gc, wc) {
				t.Errorf("counters after restores %v, want %v", gc, wc)
			}
		})
	}
}

// snapshotWithState returns a snapshot of an operator holding open windows of
// several shards.
func snapshotWithState(t testing.TB, mem memory.Allocator) (*Spec, []byte) {
	spec := Tumbling(10 * time.Second).Aggregate(refAggs()...)
	op := newBoundOp(t, mem, spec, []string{"page", "flag"}, lenientBound)
	steps := randomSteps(rand.New(rand.NewPCG(3, 3)), 8, 1_700_000_000_000)
	runSteps(t, mem, op, steps[:len(steps)-1])
	state, err := op.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if op.Counters()["open_windows"] == 0 {
		t.Fatal("no open windows to snapshot")
	}
	return spec, state
}

func TestRestoreErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	spec, state := snapshotWithState(t, mem)
	fresh := func() *Operator { return newTestOp(t, mem, spec, []string{"page", "flag"}) }

	for n := 0; n < len(state); n++ {
		if err := fresh().Restore(state[:n]); err == nil {
			t.Fatalf("restoring the first %d of %d bytes succeeded", n, len(state))
		}
	}
	flipped := slices.Clone(state)
	flipped[len(flipped)/2] ^= 0x40
	if err := fresh().Restore(flipped); !errors.Is(err, ErrCorruptSnapshot) {
		t.Errorf("flipped byte: %v, want ErrCorruptSnapshot", err)
	}
	next := slices.Clone(state)
	next[4] = snapVersion + 1
	if err := fresh().Restore(next); err == nil || !strings.Contains(err.Error(), "snapshot version 4") {
		t.Errorf("version 4: %v", err)
	}
	other := newTestOp(t, mem, spec, []string{"page"})
	if err := other.Restore(state); err == nil || !strings.Contains(err.Error(), "cannot restore stage") {
		t.Errorf("other stage: %v", err)
	}
	// A failed restore leaves the state alone.
	op := fresh()
	if err := op.Restore(state); err != nil {
		t.Fatal(err)
	}
	if err := op.Restore(flipped); err == nil {
		t.Fatal("flipped restore succeeded")
	}
	again, err := op.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != len(state) {
		t.Errorf("snapshot after a failed restore has %d bytes, want %d", len(again), len(state))
	}
	runSteps(t, mem, op, []step{{wm: ptr[int64](pipeline.MaxTime)}})
}

func FuzzRestore(f *testing.F) {
	mem := memory.NewGoAllocator()
	spec, state := snapshotWithState(f, mem)
	f.Add(state[:len(state)-4])
	f.Add([]byte(snapMagic + "\x01"))
	f.Fuzz(func(t *testing.T, body []byte) {
		// Seal the body with a valid checksum so the decoder itself is fuzzed.
		data := binaryAppendCRC(body)
		op := newTestOp(t, mem, spec, []string{"page", "flag"})
		if err := op.Restore(data); err != nil {
			return
		}
		if _, err := op.Snapshot(); err != nil {
			t.Fatal(err)
		}
		if err := op.OnWatermark(context.Background(), pipeline.MaxTime, func(b *pipeline.Batch) { b.Release() }); err != nil {
			t.Fatal(err)
		}
	})
}

// After the final watermark of a bounded input, an input that has grown (a
// resumed job reads appended lines) is late only for the windows that fired:
// rows of later windows fire as usual, also after a snapshot and restore.
func TestRowsAfterTheEndOfABoundedInput(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	spec := Tumbling(time.Minute).Aggregate(Count("n"))
	op := newTestOp(t, mem, spec, []string{"page"})
	x := ptr("x")
	got := runSteps(t, mem, op, []step{
		{shard: "a", rows: []row{tsRow(x, 10_000), tsRow(x, 70_000)}},
		{wm: ptr[int64](pipeline.MaxTime)},
	})
	compareFired(t, got, []fired{{rows: []string{"0|60000|x|1", "60000|120000|x|1"}, batches: 1, minT: 0, maxT: 120_000}})
	state, err := op.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	op2 := newTestOp(t, mem, spec, []string{"page"})
	if err := op2.Restore(state); err != nil {
		t.Fatal(err)
	}
	got = runSteps(t, mem, op2, []step{
		{shard: "a", rows: []row{tsRow(x, 110_000), tsRow(x, 130_000), tsRow(x, 200_000)}}, // the first is late
		{wm: ptr[int64](100_000)}, // behind what fired: nothing
		{wm: ptr[int64](180_000)},
		{wm: ptr[int64](pipeline.MaxTime)},
	})
	compareFired(t, got, []fired{
		{},
		{rows: []string{"120000|180000|x|1"}, batches: 1, minT: 120_000, maxT: 180_000},
		{rows: []string{"180000|240000|x|1"}, batches: 1, minT: 180_000, maxT: 240_000},
	})
	if late := op2.Counters()["late_rows"]; late != 1 {
		t.Errorf("late rows %d, want 1", late)
	}
}
