package sourcetest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
)

// memSource is an in-memory source whose faults can be switched on, to check
// that the suite passes a correct source and catches broken ones.
type memSource struct {
	mem     memory.Allocator
	shards  map[string][]Record
	batch   int
	bounded bool
	fault   string
}

func (s *memSource) Name() string  { return "mem" }
func (s *memSource) Bounded() bool { return s.bounded }
func (s *memSource) Shards(context.Context) ([]pipeline.Shard, error) {
	var out []pipeline.Shard
	for id := range s.shards {
		out = append(out, pipeline.Shard{ID: id})
	}
	return out, nil
}

func (s *memSource) OpenShard(_ context.Context, sh pipeline.Shard, after pipeline.Position) (pipeline.ShardReader, error) {
	recs, ok := s.shards[sh.ID]
	if !ok {
		return nil, fmt.Errorf("mem: unknown shard %q", sh.ID)
	}
	next := 0
	for next < len(recs) && comparePositions(recs[next].Pos, after) <= 0 {
		next++
	}
	if s.fault == "resume includes the position" && next > 0 {
		next--
	}
	return &memReader{src: s, id: sh.ID, recs: recs, next: next, rb: pipeline.NewRawBuilder(s.mem)}, nil
}

type memReader struct {
	src    *memSource
	id     string
	recs   []Record
	next   int
	ended  int
	rb     *pipeline.RawBuilder
	closed bool
}

func (r *memReader) Read(ctx context.Context) (*pipeline.Batch, error) {
	if r.next >= len(r.recs) {
		if !r.src.bounded {
			return nil, nil
		}
		r.ended++
		if r.src.fault == "end is not sticky" && r.ended > 1 {
			return nil, nil
		}
		return nil, pipeline.ErrShardEnd
	}
	for i := 0; i < r.src.batch && r.next < len(r.recs); i++ {
		rec := r.recs[r.next]
		r.next++
		if r.src.fault == "skips a record" && r.next == 3 {
			continue
		}
		pos := rec.Pos
		if r.src.fault == "positions repeat" && r.next == 4 {
			pos = r.recs[r.next-2].Pos
		}
		r.rb.Append(rec.Data, rec.PartitionKey, pos, 0)
	}
	b := r.rb.NewBatch(r.id)
	if r.src.fault == "wrong shard" && b != nil {
		b.Shard = "other"
	}
	return b, nil
}

func (r *memReader) Close() error {
	if !r.closed {
		r.closed = true
		r.rb.Release()
	}
	return nil
}

func memRecords(shards, n int) map[string][]Record {
	out := map[string][]Record{}
	for s := range shards {
		id := fmt.Sprintf("s%d", s)
		out[id] = []Record{}
		for i := range n * s {
			out[id] = append(out[id], Record{
				Data: fmt.Appendf(nil, `{"s":%d,"i":%d}`, s, i), PartitionKey: fmt.Sprint(i % 3),
				Pos: pipeline.Position{Seq: fmt.Sprint(1000 + 7*i), N: int64(i % 2)},
			})
		}
	}
	return out
}

func TestSuitePassesACorrectSource(t *testing.T) {
	for _, bounded := range []bool{true, false} {
		t.Run(fmt.Sprintf("bounded=%v", bounded), func(t *testing.T) {
			Run(t, func(t *testing.T, mem memory.Allocator) Fixture {
				recs := memRecords(3, 40)
				return Fixture{Source: &memSource{mem: mem, shards: recs, batch: 7, bounded: bounded}, Want: recs}
			})
		})
	}
}

func TestSuiteCatchesFaults(t *testing.T) {
	tests := []struct {
		fault   string
		resume  bool // the fault shows only when resuming
		wantErr string
	}{
		{"skips a record", false, "record 2: data"},
		{"positions repeat", false, "strictly increase"},
		{"end is not sticky", false, "not sticky"},
		{"wrong shard", false, "batch shard"},
		{"resume includes the position", true, "strictly increase"},
	}
	for _, tc := range tests {
		t.Run(tc.fault, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			recs := memRecords(2, 20)
			src := &memSource{mem: mem, shards: recs, batch: 5, bounded: true, fault: tc.fault}
			want := recs["s1"]
			after, wantTail := pipeline.Position{}, want
			if tc.resume {
				after, wantTail = want[5].Pos, want[6:]
			}
			opts := Options{}.withDefaults()
			got, err := readShard(t.Context(), src, pipeline.Shard{ID: "s1"}, after, len(wantTail), opts)
			if err == nil {
				err = diffRecords(got, wantTail)
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestComparePositions(t *testing.T) {
	tests := []struct {
		a, b pipeline.Position
		want int
	}{
		{pipeline.Position{}, pipeline.Position{N: 1}, -1},
		{pipeline.Position{N: 10}, pipeline.Position{N: 9}, 1},
		{pipeline.Position{Seq: "9"}, pipeline.Position{Seq: "10"}, -1},
		{pipeline.Position{Seq: "49590338271490256608559692538361571095921575989136588898", N: 2},
			pipeline.Position{Seq: "49590338271490256608559692538361571095921575989136588898", N: 1}, 1},
		{pipeline.Position{Seq: "123", N: 0}, pipeline.Position{Seq: "123", N: 0}, 0},
		{pipeline.Position{N: 5}, pipeline.Position{Seq: "1"}, -1},
	}
	for _, tc := range tests {
		got := comparePositions(tc.a, tc.b)
		if (got < 0) != (tc.want < 0) || (got > 0) != (tc.want > 0) {
			t.Errorf("comparePositions(%q, %q) = %d, want sign %d", tc.a, tc.b, got, tc.want)
		}
	}
}
