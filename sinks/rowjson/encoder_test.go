package rowjson

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// encode returns the rows of rec as JSON lines.
func encode(t *testing.T, rec arrow.RecordBatch) []string {
	t.Helper()
	e, err := NewEncoder(rec.Schema())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Bind(rec); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i := range int(rec.NumRows()) {
		line, err := e.AppendRow(nil, i)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(line) {
			t.Fatalf("row %d: invalid JSON %s", i, line)
		}
		lines = append(lines, string(line))
	}
	return lines
}

func TestEncodeTypes(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
		{Name: "ts_s", Type: &arrow.TimestampType{Unit: arrow.Second}},
		{Name: "ts_us", Type: &arrow.TimestampType{Unit: arrow.Microsecond}},
		{Name: "ts_ns", Type: &arrow.TimestampType{Unit: arrow.Nanosecond}},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32},
		{Name: "i8", Type: arrow.PrimitiveTypes.Int8},
		{Name: "i16", Type: arrow.PrimitiveTypes.Int16},
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32},
		{Name: "u8", Type: arrow.PrimitiveTypes.Uint8},
		{Name: "u16", Type: arrow.PrimitiveTypes.Uint16},
		{Name: "u32", Type: arrow.PrimitiveTypes.Uint32},
		{Name: "u64", Type: arrow.PrimitiveTypes.Uint64},
		{Name: "ls", Type: arrow.BinaryTypes.LargeString},
		{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String)},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).AppendNull()
	b.Field(1).(*array.Float64Builder).AppendValues([]float64{1.5}, nil)
	b.Field(2).(*array.Float32Builder).Append(0.1)
	b.Field(3).(*array.BooleanBuilder).Append(true)
	b.Field(4).(*array.TimestampBuilder).Append(arrow.Timestamp(1772402400123))
	b.Field(5).(*array.TimestampBuilder).Append(arrow.Timestamp(1772402400))
	b.Field(6).(*array.TimestampBuilder).Append(arrow.Timestamp(1772402400000001))
	b.Field(7).(*array.TimestampBuilder).Append(arrow.Timestamp(1772402400000000010))
	b.Field(8).(*array.Date32Builder).Append(arrow.Date32(20513))
	b.Field(9).(*array.Int8Builder).Append(-8)
	b.Field(10).(*array.Int16Builder).Append(-16)
	b.Field(11).(*array.Int32Builder).Append(-32)
	b.Field(12).(*array.Uint8Builder).Append(8)
	b.Field(13).(*array.Uint16Builder).Append(16)
	b.Field(14).(*array.Uint32Builder).Append(32)
	b.Field(15).(*array.Uint64Builder).Append(math.MaxUint64)
	b.Field(16).(*array.LargeStringBuilder).Append("<a>")
	lb := b.Field(17).(*array.ListBuilder)
	lb.Append(true)
	lb.ValueBuilder().(*array.StringBuilder).AppendValues([]string{"a", "b"}, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	want := `{"i":null,"f":1.5,"f32":0.1,"ok":true,"ts":"2026-03-01T22:00:00.123Z","ts_s":"2026-03-01T22:00:00Z",` +
		`"ts_us":"2026-03-01T22:00:00.000001Z","ts_ns":"2026-03-01T22:00:00.000000010Z","day":"2026-03-01",` +
		`"i8":-8,"i16":-16,"i32":-32,"u8":8,"u16":16,"u32":32,"u64":18446744073709551615,"ls":"\u003ca\u003e","tags":["a","b"]}`
	if got := encode(t, rec); len(got) != 1 || got[0] != want {
		t.Fatalf("rows = %s\nwant %s", got, want)
	}
}

func TestFloatsNaNAndInfinityAreNull(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true}}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.Float64Builder).AppendValues([]float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, 1e21}, nil)
	b.Field(0).AppendNull()
	rec := b.NewRecordBatch()
	defer rec.Release()
	want := []string{`{"f":null}`, `{"f":null}`, `{"f":null}`, `{"f":0}`, `{"f":1e+21}`, `{"f":null}`}
	if got := encode(t, rec); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows = %q, want %q", got, want)
	}
}

// The binary rule of both sinks: valid UTF-8 as a string under the column's
// name, anything else base64 under name_base64; null under the name.
func TestBinary(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "raw", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "big", Type: arrow.BinaryTypes.LargeBinary},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.BinaryBuilder).AppendValues([][]byte{[]byte("{\"a\":1}\n"), {0xff, 0xfe, 'x'}, {0, 1, 2}, nil}, []bool{true, true, true, false})
	b.Field(1).(*array.BinaryBuilder).AppendValues([][]byte{{0xc3}, []byte("é"), {}, []byte("<&>")}, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	want := []string{
		`{"raw":"{\"a\":1}\n","big_base64":"ww=="}`,
		`{"raw_base64":"//54","big":"é"}`,
		`{"raw":"\u0000\u0001\u0002","big":""}`,
		`{"raw":null,"big":"\u003c\u0026\u003e"}`,
	}
	if got := encode(t, rec); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestNewEncoderRejectsClashingKeys(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fields []arrow.Field
		ok     bool
	}{
		{"binary then its base64 name", []arrow.Field{
			{Name: "payload", Type: arrow.BinaryTypes.Binary}, {Name: "payload_base64", Type: arrow.BinaryTypes.String}}, false},
		{"base64 name then binary", []arrow.Field{
			{Name: "payload_base64", Type: arrow.BinaryTypes.String}, {Name: "payload", Type: arrow.BinaryTypes.LargeBinary}}, false},
		{"duplicate name", []arrow.Field{
			{Name: "a", Type: arrow.PrimitiveTypes.Int64}, {Name: "a", Type: arrow.BinaryTypes.String}}, false},
		{"strings may end in _base64", []arrow.Field{
			{Name: "x", Type: arrow.BinaryTypes.String}, {Name: "x_base64", Type: arrow.BinaryTypes.String}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewEncoder(arrow.NewSchema(tc.fields, nil))
			if (err == nil) != tc.ok {
				t.Fatalf("NewEncoder = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestBindChecksColumnCount(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	e, err := NewEncoder(arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64}, {Name: "b", Type: arrow.PrimitiveTypes.Int64}}, nil))
	if err != nil {
		t.Fatal(err)
	}
	rec := benchBatch(mem, 1)
	defer rec.Release()
	if err := e.Bind(rec); err == nil {
		t.Fatal("Bind accepted a batch of another width")
	}
}

// FuzzAppendRow checks string and binary values byte for byte against what
// encoding/json writes for the same object.
func FuzzAppendRow(f *testing.F) {
	f.Add("a\"b<\u2028", []byte{0xff, 'x'})
	f.Add("", []byte("é\n"))
	f.Fuzz(func(t *testing.T, s string, raw []byte) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		schema := arrow.NewSchema([]arrow.Field{
			{Name: "s<", Type: arrow.BinaryTypes.String},
			{Name: "raw", Type: arrow.BinaryTypes.Binary},
		}, nil)
		b := array.NewRecordBuilder(mem, schema)
		defer b.Release()
		b.Field(0).(*array.StringBuilder).Append(s)
		b.Field(1).(*array.BinaryBuilder).Append(raw)
		rec := b.NewRecordBatch()
		defer rec.Release()

		ks, _ := json.Marshal("s<")
		vs, _ := json.Marshal(s)
		want := "{" + string(ks) + ":" + string(vs) + ","
		if utf8.Valid(raw) {
			v, _ := json.Marshal(string(raw))
			want += `"raw":` + string(v) + "}"
		} else {
			v, _ := json.Marshal(raw) // base64
			want += `"raw_base64":` + string(v) + "}"
		}
		if got := encode(t, rec); got[0] != want {
			t.Fatalf("row = %s, want %s", got[0], want)
		}
	})
}
