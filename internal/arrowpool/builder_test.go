package arrowpool

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "page", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
}, nil)

// buildRecord appends rows in every way the job's decoders do: one at a
// time, nulls, empty values and whole slices with a validity mask.
func buildRecord(mem memory.Allocator, rows int) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, testSchema)
	defer b.Release()
	pages := b.Field(0).(*array.StringBuilder)
	ns := b.Field(1).(*array.Int64Builder)
	ts := b.Field(2).(*array.TimestampBuilder)
	for i := range rows {
		switch i % 7 {
		case 3:
			pages.AppendNull()
			ns.AppendNull()
			ts.AppendNull()
		case 5:
			pages.AppendEmptyValue()
			ns.AppendEmptyValue()
			ts.AppendEmptyValue()
		default:
			pages.Append(fmt.Sprintf("/page/%d", i%13))
			ns.Append(int64(i) * 1_000_003)
			ts.Append(arrow.Timestamp(1_700_000_000_000 + int64(i)))
		}
	}
	pages.AppendNulls(3)
	ns.AppendNulls(3)
	ts.AppendNulls(3)
	vals := []int64{1, 2, 3, 4, 5}
	valid := []bool{true, false, true, false, true}
	ns.AppendValues(vals, valid)
	pages.AppendValues([]string{"a", "b", "c", "d", "e"}, valid)
	tss := make([]arrow.Timestamp, len(vals))
	for i, v := range vals {
		tss[i] = arrow.Timestamp(v)
	}
	ts.AppendValues(tss, valid)
	return b.NewRecordBatch()
}

// dirty fills every class of p up to max bytes with freed buffers of 0xAA,
// so whatever the builders get next is a recycled, dirty buffer.
func dirty(p *Pool, max int) {
	var bufs [][]byte
	for size := 64; size <= max; size *= 2 {
		for range 4 {
			b := p.Allocate(size)
			fill(b, 0xAA)
			bufs = append(bufs, b)
		}
	}
	for _, b := range bufs {
		p.Free(b)
	}
}

// sameBytes compares two arrays' data buffers byte for byte, which
// array.Equal does not do under null slots.
func sameBytes(t *testing.T, name string, want, got arrow.ArrayData) {
	t.Helper()
	wb, gb := want.Buffers(), got.Buffers()
	if len(wb) != len(gb) {
		t.Fatalf("%s: %d buffers, want %d", name, len(gb), len(wb))
	}
	for i := range wb {
		if (wb[i] == nil) != (gb[i] == nil) {
			t.Fatalf("%s: buffer %d nil %v, want nil %v", name, i, gb[i] == nil, wb[i] == nil)
		}
		if wb[i] != nil && !bytes.Equal(wb[i].Bytes(), gb[i].Bytes()) {
			t.Errorf("%s: buffer %d differs from GoAllocator's:\n got %x\nwant %x", name, i, gb[i].Bytes(), wb[i].Bytes())
		}
	}
}

// TestBuilderRoundTrip builds the same records with memory.GoAllocator and
// with a dirty Pool (through a CheckedAllocator) several times over, and
// wants identical arrays, down to the bytes under null slots, and nothing
// left allocated.
func TestBuilderRoundTrip(t *testing.T) {
	p := newPool(t, Config{})
	mem := memory.NewCheckedAllocator(p)
	defer mem.AssertSize(t, 0)
	goMem := memory.NewGoAllocator()
	for round, rows := range []int{10, 1000, 37, 5000, 1000} {
		dirty(p, 1<<16)
		want := buildRecord(goMem, rows)
		got := buildRecord(mem, rows)
		if !array.RecordEqual(want, got) {
			t.Fatalf("round %d: records differ:\n got %v\nwant %v", round, got, want)
		}
		for i := range int(want.NumCols()) {
			sameBytes(t, fmt.Sprintf("round %d column %s", round, want.ColumnName(i)), want.Column(i).Data(), got.Column(i).Data())
		}
		want.Release()
		got.Release()
	}
	if st := p.Stats(); st.Hits == 0 {
		t.Errorf("stats %+v: the builders never reused a buffer", st)
	}
}
