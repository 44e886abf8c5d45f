package rowjson

import (
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// benchSchema is a windowed aggregate with a dead letter's payload: every
// type the encoder writes without allocating.
var benchSchema = arrow.NewSchema([]arrow.Field{
	{Name: "page", Type: arrow.BinaryTypes.String},
	{Name: "window_start", Type: arrow.FixedWidthTypes.Timestamp_ms},
	{Name: "day", Type: arrow.FixedWidthTypes.Date32},
	{Name: "events", Type: arrow.PrimitiveTypes.Int64},
	{Name: "small", Type: arrow.PrimitiveTypes.Uint8},
	{Name: "revenue", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "ok", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "payload", Type: arrow.BinaryTypes.Binary},
}, nil)

func benchBatch(mem memory.Allocator, n int) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, benchSchema)
	defer b.Release()
	for i := range n {
		b.Field(0).(*array.StringBuilder).Append("/products/" + strconv.Itoa(i%97) + "?ref=\"home\"")
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(1767225600000 + int64(i)*1000))
		b.Field(2).(*array.Date32Builder).Append(arrow.Date32(20454))
		b.Field(3).(*array.Int64Builder).Append(int64(i))
		b.Field(4).(*array.Uint8Builder).Append(uint8(i))
		if i%5 == 0 {
			b.Field(5).AppendNull()
		} else {
			b.Field(5).(*array.Float64Builder).Append(float64(i) * 1.25)
		}
		b.Field(6).(*array.BooleanBuilder).Append(i%2 == 0)
		payload := []byte(`{"event_id":"` + strconv.Itoa(i) + `","user":"` + strings.Repeat("u", 40) + `"}`)
		if i%3 == 0 {
			payload = append(payload, 0xff) // not UTF-8: base64
		}
		b.Field(7).(*array.BinaryBuilder).Append(payload)
	}
	return b.NewRecordBatch()
}

func TestAppendRowDoesNotAllocate(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := benchBatch(mem, 64)
	defer rec.Release()
	e, err := NewEncoder(benchSchema)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Bind(rec); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 4096)
	i := 0
	allocs := testing.AllocsPerRun(200, func() {
		buf, _ = e.AppendRow(buf[:0], i%64)
		i++
	})
	if allocs != 0 {
		t.Fatalf("AppendRow: %v allocations per row", allocs)
	}
}

// BenchmarkAppendRow encodes batches of 1024 rows, binding each batch once;
// one op is one row.
func BenchmarkAppendRow(b *testing.B) {
	const n = 1024
	rec := benchBatch(memory.NewGoAllocator(), n)
	defer rec.Release()
	e, err := NewEncoder(benchSchema)
	if err != nil {
		b.Fatal(err)
	}
	var buf []byte
	var bytes int64
	b.ReportAllocs()
	rows := 0
	for b.Loop() {
		r := rows % n
		if r == 0 {
			if err := e.Bind(rec); err != nil {
				b.Fatal(err)
			}
		}
		if buf, err = e.AppendRow(buf[:0], r); err != nil {
			b.Fatal(err)
		}
		bytes += int64(len(buf))
		rows++
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(bytes)/float64(rows), "B/row")
}
