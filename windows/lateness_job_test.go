package windows_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/operators"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/windows"
)

// gatedSource has two shards of JSON lines; the shard named late is not
// read until the other one has ended, so the two are read at the most
// different speeds there are: one entirely before the other.
type gatedSource struct {
	lines   map[string][]string
	arrival map[string][]int64 // per line, when it "arrived" (ms); none: 0
	late    string
	first   chan struct{} // closed when the other shard has ended
	once    sync.Once
}

func (s *gatedSource) Name() string  { return "gated" }
func (s *gatedSource) Bounded() bool { return true }
func (s *gatedSource) Shards(context.Context) ([]pipeline.Shard, error) {
	return []pipeline.Shard{{ID: "a"}, {ID: "b"}}, nil
}

func (s *gatedSource) OpenShard(_ context.Context, sh pipeline.Shard, _ pipeline.Position) (pipeline.ShardReader, error) {
	return &gatedReader{src: s, shard: sh.ID, raw: pipeline.NewRawBuilder(memory.DefaultAllocator)}, nil
}

type gatedReader struct {
	src   *gatedSource
	shard string
	next  int
	raw   *pipeline.RawBuilder
}

func (r *gatedReader) Read(ctx context.Context) (*pipeline.Batch, error) {
	if r.shard == r.src.late {
		select {
		case <-r.src.first:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	lines := r.src.lines[r.shard]
	if r.next == len(lines) {
		if r.shard != r.src.late {
			r.src.once.Do(func() { close(r.src.first) })
		}
		return nil, pipeline.ErrShardEnd
	}
	for n := 0; n < 50 && r.next < len(lines); n++ {
		var at int64
		if a := r.src.arrival[r.shard]; a != nil {
			at = a[r.next]
		}
		r.raw.Append([]byte(lines[r.next]), "k", pipeline.OffsetPosition(int64(r.next)), at)
		r.next++
	}
	return r.raw.NewBatch(r.shard), nil
}

func (r *gatedReader) Close() error { r.raw.Release(); return nil }

// rowsSink keeps the rows written, as text.
type rowsSink struct {
	name string
	rows []string
}

func (s *rowsSink) Name() string                { return s.name }
func (s *rowsSink) Bind(*arrow.Schema) error    { return nil }
func (s *rowsSink) Close(context.Context) error { return nil }
func (s *rowsSink) Write(_ context.Context, b *pipeline.Batch) error {
	defer b.Release()
	for i := range int(b.Rec.NumRows()) {
		var cells []string
		for c := range int(b.Rec.NumCols()) {
			cells = append(cells, b.Rec.Column(c).ValueStr(i))
		}
		s.rows = append(s.rows, fmt.Sprint(cells))
	}
	return nil
}

// A job over two shards, one of which has an event an hour ahead of its
// other events (a wild clock), gives the same rows and the same late rows
// whichever shard is read first, one entirely before the other: the rows
// after the wild event are late for their own shard either way, and the
// other shard's rows are never late.
func TestJobLateRowsDoNotDependOnWhichShardIsReadFirst(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lines := map[string][]string{}
	for _, sh := range []string{"a", "b"} {
		for i := range 600 {
			ts := base.Add(time.Duration(i) * time.Second)
			if sh == "a" && i == 300 {
				ts = ts.Add(time.Hour)
			}
			lines[sh] = append(lines[sh], fmt.Sprintf(`{"page":"/p/%d","ts":%q}`, i%3, ts.Format(time.RFC3339Nano)))
		}
	}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "page", Type: arrow.BinaryTypes.String},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
	}, nil)
	run := func(late string) (rows, lateRows []string, counted int64) {
		src := &gatedSource{lines: lines, late: late, first: make(chan struct{})}
		out, side := &rowsSink{name: "rows"}, &rowsSink{name: "late"}
		job, err := pipeline.New("late").From(src).
			Decode(operators.JSON(schema, operators.JSONOptions{Required: []string{"ts"}})).
			Watermark("ts", 10*time.Second).
			KeyBy("page").
			Window(windows.Tumbling(time.Minute).Aggregate(windows.Count("n")).LateRows()).
			To(out).
			SideOutput(windows.LateSide, side).
			Build()
		if err != nil {
			t.Fatal(err)
		}
		if err := job.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		slices.Sort(out.rows)
		slices.Sort(side.rows)
		return out.rows, side.rows, job.Stats().Counters["late_rows"]
	}
	aFirst, lateA, countA := run("b")
	bFirst, lateB, countB := run("a")
	// Shard a's events 301-599 are an hour behind its wild event: late.
	if countA != 299 || countB != 299 || len(lateA) != 299 {
		t.Errorf("late rows: %d counted and %d on the late side reading a first, %d counted reading b first; want 299 each", countA, len(lateA), countB)
	}
	if !slices.Equal(aFirst, bFirst) {
		t.Errorf("the rows differ with the order of the shards:\na first: %v\nb first: %v", aFirst, bFirst)
	}
	if !slices.Equal(lateA, lateB) {
		t.Errorf("the late rows differ with the order of the shards")
	}
	if len(lateA) > 0 && lateA[0] != "[/p/0 2026-01-01T00:05:03Z]" {
		t.Errorf("first late row %s, want shard a's event 303 whole: [/p/0 2026-01-01T00:05:03Z]", lateA[0])
	}
}

// With MaxAhead, the wild event is one late row, put on the late side, and
// moves no watermark: the rest of its shard is on time.
func TestJobMaxAheadKeepsOneWildClockFromMakingItsShardLate(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lines, arrival := map[string][]string{}, map[string][]int64{}
	for _, sh := range []string{"a", "b"} {
		for i := range 600 {
			at := base.Add(time.Duration(i) * time.Second)
			ts := at
			if sh == "a" && i == 300 {
				ts = ts.Add(time.Hour)
			}
			lines[sh] = append(lines[sh], fmt.Sprintf(`{"page":"/p/%d","ts":%q}`, i%3, ts.Format(time.RFC3339Nano)))
			arrival[sh] = append(arrival[sh], at.UnixMilli())
		}
	}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "page", Type: arrow.BinaryTypes.String},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
	}, nil)
	for _, late := range []string{"a", "b"} {
		src := &gatedSource{lines: lines, arrival: arrival, late: late, first: make(chan struct{})}
		out, side := &rowsSink{name: "rows"}, &rowsSink{name: "late"}
		job, err := pipeline.New("ahead").From(src).
			Decode(operators.JSON(schema, operators.JSONOptions{Required: []string{"ts"}})).
			Watermark("ts", 10*time.Second).
			MaxAhead(10*time.Minute).
			KeyBy("page").
			Window(windows.Tumbling(time.Minute).Aggregate(windows.Count("n")).LateRows()).
			To(out).
			SideOutput(windows.LateSide, side).
			Build()
		if err != nil {
			t.Fatal(err)
		}
		if err := job.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := job.Stats().Counters["late_rows"]; n != 1 || len(side.rows) != 1 || side.rows[0] != "[/p/0 2026-01-01T01:05:00Z]" {
			t.Errorf("shard %s read last: %d late rows, late side %v; want the wild event alone", late, n, side.rows)
		}
		if len(out.rows) != 30 { // 10 minutes of 3 pages
			t.Errorf("shard %s read last: %d rows, want 30 (no window of the wild hour)", late, len(out.rows))
		}
	}
}
