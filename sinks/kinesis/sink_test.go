package kinesis

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
)

var windowSchema = arrow.NewSchema([]arrow.Field{
	{Name: "page", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "window_start", Type: arrow.FixedWidthTypes.Timestamp_ms},
	{Name: "events", Type: arrow.PrimitiveTypes.Int64},
	{Name: "revenue", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "ok", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "raw", Type: arrow.BinaryTypes.Binary, Nullable: true},
	{Name: "day", Type: arrow.FixedWidthTypes.Date32},
	{Name: "small", Type: arrow.PrimitiveTypes.Uint8},
}, nil)

type windowRow struct {
	page    *string
	start   int64
	events  int64
	revenue float64
	null    bool
	raw     []byte
}

func windowBatch(t *testing.T, mem memory.Allocator, rows []windowRow) *pipeline.Batch {
	t.Helper()
	b := array.NewRecordBuilder(mem, windowSchema)
	defer b.Release()
	for _, r := range rows {
		if r.page == nil {
			b.Field(0).AppendNull()
		} else {
			b.Field(0).(*array.StringBuilder).Append(*r.page)
		}
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(r.start))
		b.Field(2).(*array.Int64Builder).Append(r.events)
		if r.null {
			b.Field(3).AppendNull()
		} else {
			b.Field(3).(*array.Float64Builder).Append(r.revenue)
		}
		b.Field(4).(*array.BooleanBuilder).Append(r.events%2 == 0)
		if r.raw == nil {
			b.Field(5).AppendNull()
		} else {
			b.Field(5).(*array.BinaryBuilder).Append(r.raw)
		}
		b.Field(6).(*array.Date32Builder).Append(arrow.Date32FromTime(pipeline.Time(r.start)))
		b.Field(7).(*array.Uint8Builder).Append(uint8(r.events))
	}
	return &pipeline.Batch{Rec: b.NewRecordBatch(), Shard: "keyed"}
}

func ptr(s string) *string { return &s }

func newTestSink(t *testing.T, f *fakeKinesis, cfg Config) *Sink {
	t.Helper()
	cfg.Client, cfg.Stream = f, "derived"
	s, err := New(cfg, WithSleep((&recordedSleep{}).sleep))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Bind(windowSchema); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSinkWritesRowsAsJSON(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f := newFake(2, 20)
	f.failRate = 0.3
	s := newTestSink(t, f, Config{PartitionKeyColumn: "page", ProducerConfig: ProducerConfig{MaxAttempts: 30}})
	// raw: valid UTF-8 is a string, anything else base64 under raw_base64.
	rows := []windowRow{
		{page: ptr("/home"), start: 1767225600000, events: 3, revenue: 12.5, raw: []byte{0, 1, 2}},
		{page: ptr(`/q"a\b` + "\n\x01é\xff"), start: 1767225660123, events: 4, null: true},
		{page: ptr("/nan"), start: 0, events: 5, revenue: math.NaN(), raw: []byte{0xff, 0xfe}},
	}
	if err := s.Write(context.Background(), windowBatch(t, mem, rows)); err != nil {
		t.Fatal(err)
	}
	want := []userRecord{
		{key: "/home", data: `{"page":"/home","window_start":"2026-01-01T00:00:00.000Z","events":3,"revenue":12.5,"ok":false,"raw":"\u0000\u0001\u0002","day":"2026-01-01","small":3}`},
		{key: "/q\"a\\b\n\x01é\xff", data: `{"page":"/q\"a\\b\n\u0001é\ufffd","window_start":"2026-01-01T00:01:00.123Z","events":4,"revenue":null,"ok":true,"raw":null,"day":"2026-01-01","small":4}`},
		{key: "/nan", data: `{"page":"/nan","window_start":"1970-01-01T00:00:00.000Z","events":5,"revenue":null,"ok":false,"raw_base64":"//4=","day":"1970-01-01","small":5}`},
	}
	checkRecords(t, want, f.readBack(t), true, f.shardOf)
	c := s.Counters()
	if c["kinesis_rows_written"] != 3 || c["kinesis_put_calls"] == 0 {
		t.Fatalf("counters %v", c)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestSinkDataColumnAndAggregation(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f := newFake(3, 21)
	s := newTestSink(t, f, Config{PartitionKeyColumn: "events", DataColumn: "raw", ProducerConfig: ProducerConfig{Aggregate: true}})
	var rows []windowRow
	var want []userRecord
	for i := range 300 {
		raw := []byte(strings.Repeat("r", i%7) + string(rune('a'+i%26)))
		rows = append(rows, windowRow{page: ptr("p"), events: int64(i % 17), raw: raw})
		want = append(want, userRecord{key: strconv.Itoa(i % 17), data: string(raw)})
	}
	if err := s.Write(context.Background(), windowBatch(t, mem, rows)); err != nil {
		t.Fatal(err)
	}
	got := f.readBack(t)
	// data values repeat, so compare the sequence per key instead of checkRecords
	perKey := func(rs []userRecord) map[string]string {
		m := map[string]string{}
		for _, r := range rs {
			m[r.key] += r.data + ","
			if f.shardOf(r.key) != r.shard && r.shard != "" {
				t.Fatalf("key %s in shard %s", r.key, r.shard)
			}
		}
		return m
	}
	g, w := perKey(got), perKey(want)
	for k := range w {
		if g[k] != w[k] {
			t.Fatalf("key %s: got %q, want %q", k, g[k], w[k])
		}
	}
	if n := s.Counters()["kinesis_records_put"]; n > 3 {
		t.Fatalf("%d Kinesis records for 300 rows over 3 shards", n)
	}
}

func TestSinkErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f := newFake(1, 22)

	s := newTestSink(t, f, Config{PartitionKeyColumn: "page"})
	err := s.Write(context.Background(), windowBatch(t, mem, []windowRow{{page: ptr("a")}, {page: nil}}))
	if !errors.Is(err, ErrPartitionKey) {
		t.Fatalf("Write with a null key = %v", err)
	}

	unbound, err := New(Config{PartitionKeyColumn: "page", ProducerConfig: ProducerConfig{Stream: "s", Client: f}})
	if err != nil {
		t.Fatal(err)
	}
	if err := unbound.Write(context.Background(), windowBatch(t, mem, []windowRow{{page: ptr("a")}})); !errors.Is(err, ErrNotBound) {
		t.Fatalf("Write before Bind = %v", err)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"missing key column", Config{PartitionKeyColumn: "nope"}, "0 columns"},
		{"float key", Config{PartitionKeyColumn: "revenue"}, "unsupported type"},
		{"timestamp data", Config{PartitionKeyColumn: "page", DataColumn: "window_start"}, "unsupported type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Client, tc.cfg.Stream = f, "s"
			s, err := New(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Bind(windowSchema); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Bind = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := New(Config{ProducerConfig: ProducerConfig{Stream: "s", Client: f}}); err == nil {
		t.Fatal("New accepted a config without PartitionKeyColumn")
	}
}
