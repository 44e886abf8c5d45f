package operators

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
)

var typesSchema = arrow.NewSchema([]arrow.Field{
	{Name: "s", Type: arrow.BinaryTypes.String},
	{Name: "i", Type: arrow.PrimitiveTypes.Int64},
	{Name: "f", Type: arrow.PrimitiveTypes.Float64},
	{Name: "b", Type: arrow.FixedWidthTypes.Boolean},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond}},
}, nil)

func TestJSONDecodesEveryType(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"all fields", `{"s":"hello","i":42,"f":1.5,"b":true,"ts":"2024-05-01T12:00:00.123Z"}`,
			`s=hello i=42 f=1.5 b=true ts=2024-05-01T12:00:00.123Z`},
		{"missing fields are null", `{"ts":0}`, `s=null i=null f=null b=null ts=1970-01-01T00:00:00.000Z`},
		{"nulls are null", `{"s":null,"i":null,"f":null,"b":null,"ts":1}`, `s=null i=null f=null b=null ts=1970-01-01T00:00:00.001Z`},
		{"escaped and unicode strings", `{"s":"a\"b\\c\n\u00e9\ud83d\ude00ü","ts":0}`, "s=a\"b\\c\n\u00e9\U0001F600ü i=null f=null b=null ts=1970-01-01T00:00:00.000Z"},
		{"empty string", `{"s":"","ts":0}`, `s= i=null f=null b=null ts=1970-01-01T00:00:00.000Z`},
		{"int64 extremes", `{"i":-9223372036854775808,"ts":0}`, `s=null i=-9223372036854775808 f=null b=null ts=1970-01-01T00:00:00.000Z`},
		{"float from integer and exponent", `{"f":-3,"ts":0}`, `s=null i=null f=-3 b=null ts=1970-01-01T00:00:00.000Z`},
		{"float exponent", `{"f":2.5e-3,"ts":0}`, `s=null i=null f=0.0025 b=null ts=1970-01-01T00:00:00.000Z`},
		{"false", `{"b":false,"ts":0}`, `s=null i=null f=null b=false ts=1970-01-01T00:00:00.000Z`},
		{"time with offset", `{"ts":"2024-05-01T14:00:00.5+02:00"}`, `s=null i=null f=null b=null ts=2024-05-01T12:00:00.500Z`},
		{"time with nanoseconds", `{"ts":"2024-05-01T12:00:00.123456789Z"}`, `s=null i=null f=null b=null ts=2024-05-01T12:00:00.123Z`},
		{"epoch milliseconds", `{"ts":1714564800123}`, `s=null i=null f=null b=null ts=2024-05-01T12:00:00.123Z`},
		{"unknown keys, nested values skipped", `{"x":{"s":"no","a":[1,{"b":[]}]},"y":[{"}":"]"}],"s":"yes","ts":0}`,
			`s=yes i=null f=null b=null ts=1970-01-01T00:00:00.000Z`},
		{"white space", " \n{ \"s\" : \"w\" ,\t\"ts\" : 0 }\r\n", `s=w i=null f=null b=null ts=1970-01-01T00:00:00.000Z`},
		{"duplicate key: last wins", `{"s":"first","s":"second","ts":0}`, `s=second i=null f=null b=null ts=1970-01-01T00:00:00.000Z`},
		{"escaped key", `{"\u0073":"k","ts":0}`, `s=k i=null f=null b=null ts=1970-01-01T00:00:00.000Z`},
		{"negative zero float", `{"f":-0,"ts":0}`, `s=null i=null f=-0 b=null ts=1970-01-01T00:00:00.000Z`},
		{"earliest epoch milliseconds", `{"ts":-62167219200000}`, `s=null i=null f=null b=null ts=0000-01-01T00:00:00.000Z`},
		{"latest epoch milliseconds", `{"ts":253402300799999}`, `s=null i=null f=null b=null ts=9999-12-31T23:59:59.999Z`},
		{"nested 1000 deep", `{"x":` + strings.Repeat("[", 999) + strings.Repeat("]", 999) + `,"ts":0}`, `s=null i=null f=null b=null ts=1970-01-01T00:00:00.000Z`},
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	_, op := newOp(t, mem, JSON(typesSchema, JSONOptions{Required: []string{"ts"}}), pipeline.RawSchema)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			main, dead := collect(t, op, rawBatch(mem, "shard-1", [][]byte{[]byte(tc.in)}))
			defer releaseAll(main)
			defer releaseAll(dead)
			for _, d := range dead {
				t.Errorf("dead letter: %v", deadLetters(t, d))
			}
			if len(main) != 1 {
				t.Fatalf("%d main batches, want 1", len(main))
			}
			if got := rowStrings(main[0].Rec); len(got) != 1 || got[0] != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestJSONRejects(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"bad JSON", `{"s":"x",`, `json: invalid JSON: `},
		{"truncated string", `{"s":"x`, `json: invalid JSON: `},
		{"bad literal", `{"b":tru,"ts":0}`, `json: invalid JSON: `},
		{"empty record", ``, `json: invalid JSON: `},
		{"trailing data", `{"ts":0}x`, `json: invalid JSON: data after the object at offset 8`},
		{"two objects", `{"ts":0}{"ts":1}`, `json: invalid JSON: data after the object at offset 8`},
		{"two objects after a string", `{"s":"}","ts":"2024-05-01T12:00:00Z"} {"a":"{"}`, `json: invalid JSON: data after the object at offset 38`},
		{"array", `[{"ts":0}]`, `json: record is a JSON array, not an object`},
		{"string", `"ts"`, `json: record is a JSON string, not an object`},
		{"number", `12`, `json: record is a JSON number, not an object`},
		{"null record", `null`, `json: record is JSON null, not an object`},
		{"required missing", `{"s":"x"}`, `json: required field "ts" is missing`},
		{"required null", `{"ts":null}`, `json: required field "ts" is null`},
		{"string wants string", `{"s":1,"ts":0}`, `json: field "s": want a string, got a number`},
		{"string not an object", `{"s":{"a":1},"ts":0}`, `json: field "s": want a string, got an object`},
		{"invalid UTF-8", "{\"s\":\"\xff\",\"ts\":0}", `json: field "s": string is not valid UTF-8`},
		{"int wants integer", `{"i":1.5,"ts":0}`, `json: field "i": number 1.5 is not an int64`},
		{"int overflow", `{"i":9223372036854775808,"ts":0}`, `json: field "i": number 9223372036854775808 is not an int64`},
		{"float overflow", `{"f":-1e400,"ts":0}`, `json: field "f": number -1e400 is out of float64's range`},
		{"int from string", `{"i":"1","ts":0}`, `json: field "i": want an integer, got a string`},
		{"float from bool", `{"f":true,"ts":0}`, `json: field "f": want a number, got a bool`},
		{"bool from number", `{"b":1,"ts":0}`, `json: field "b": want true or false, got a number`},
		{"bool from array", `{"b":[true],"ts":0}`, `json: field "b": want true or false, got an array`},
		{"unparsable time", `{"ts":"yesterday"}`, `json: field "ts": cannot parse "yesterday" as an RFC 3339 time`},
		{"time without zone", `{"ts":"2024-05-01T12:00:00"}`, `json: field "ts": cannot parse "2024-05-01T12:00:00" as an RFC 3339 time`},
		{"fractional epoch", `{"ts":1.5}`, `json: field "ts": number 1.5 is not an integer of epoch milliseconds`},
		{"time from bool", `{"ts":false}`, `json: field "ts": want an RFC 3339 string or epoch milliseconds, got a bool`},
		// Epoch milliseconds beyond the years 0000 to 9999 that an RFC 3339
		// string can express: at the int64 extremes, (max event time -
		// bound) overflows and sends the watermark to the far future.
		{"epoch after year 9999", `{"ts":253402300800000}`, `json: field "ts": number 253402300800000 is outside the years 0000 to 9999`},
		{"epoch before year 0", `{"ts":-62167219200001}`, `json: field "ts": number -62167219200001 is outside the years 0000 to 9999`},
		{"epoch near int64 min", `{"ts":-9223372036854775807}`, `json: field "ts": number -9223372036854775807 is outside the years 0000 to 9999`},
		{"epoch int64 max", `{"ts":9223372036854775807}`, `json: field "ts": number 9223372036854775807 is outside the years 0000 to 9999`},
		{"nested too deep", `{"x":` + strings.Repeat("[", 1001) + strings.Repeat("]", 1001) + `,"ts":0}`, `json: value nested deeper than 1000 levels at offset 1004`},
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	_, op := newOp(t, mem, JSON(typesSchema, JSONOptions{Required: []string{"ts"}}), pipeline.RawSchema)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The bad record sits between two good ones, at offset 2 of a
			// Kinesis-like shard.
			good1, good2 := []byte(`{"s":"before","ts":1}`), []byte(`{"s":"after","ts":2}`)
			rb := pipeline.NewRawBuilder(mem)
			rb.Append(good1, "k", pipeline.Position{Seq: "4959", N: 0}, 0)
			rb.Append([]byte(tc.in), "k", pipeline.Position{Seq: "4960", N: 3}, 0)
			rb.Append(good2, "k", pipeline.Position{Seq: "4961", N: 0}, 0)
			raw := rb.NewBatch("shard-7")
			rb.Release()

			main, dead := collect(t, op, raw)
			defer releaseAll(main)
			defer releaseAll(dead)
			if len(dead) != 1 || dead[0].Len() != 1 {
				t.Fatalf("got %d dead-letter batches, want one of one row", len(dead))
			}
			dl := deadLetters(t, dead[0])[0]
			if dl.source != "test" || dl.shard != "shard-7" || dl.position != "4960/3" || dl.payload != tc.in {
				t.Errorf("dead letter %v: want source test, shard shard-7, position 4960/3, payload %q", dl, tc.in)
			}
			if !strings.HasPrefix(dl.err, tc.want) {
				t.Errorf("error %q, want it to start with %q", dl.err, tc.want)
			}
			if d := dead[0]; d.Shard != "shard-7" || d.First != (pipeline.Position{Seq: "4960", N: 3}) || d.Last != d.First {
				t.Errorf("dead-letter batch shard %s, first %v, last %v", d.Shard, d.First, d.Last)
			}
			if len(main) != 1 {
				t.Fatalf("%d main batches, want 1", len(main))
			}
			m := main[0]
			if m.Shard != "shard-7" || m.First.Seq != "4959" || m.Last.Seq != "4961" || m.MinTime != 0 || m.MaxTime != 0 {
				t.Errorf("main batch shard %s, first %v, last %v, times %d..%d", m.Shard, m.First, m.Last, m.MinTime, m.MaxTime)
			}
			got := rowStrings(m.Rec)
			want := []string{
				`s=before i=null f=null b=null ts=1970-01-01T00:00:00.001Z`,
				`s=after i=null f=null b=null ts=1970-01-01T00:00:00.002Z`,
			}
			if !slices.Equal(got, want) {
				t.Errorf("good rows %q, want %q", got, want)
			}
		})
	}
}

func TestJSONAllRejected(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	_, op := newOp(t, mem, JSON(typesSchema, JSONOptions{Required: []string{"ts"}}), pipeline.RawSchema)
	main, dead := collect(t, op, rawBatch(mem, "shard-1", [][]byte{[]byte(`{}`), []byte(`nope`)}))
	defer releaseAll(dead)
	if len(main) != 0 {
		releaseAll(main)
		t.Fatalf("emitted %d main batches, want none", len(main))
	}
	if len(dead) != 1 || dead[0].Len() != 2 {
		t.Fatalf("want one dead-letter batch of two rows")
	}
	dls := deadLetters(t, dead[0])
	if dls[0].position != "1" || dls[1].position != "2" {
		t.Errorf("positions %s, %s; want 1, 2", dls[0].position, dls[1].position)
	}
	want := map[string]int64{"records_in": 2, "dead_letters": 2}
	if got := op.(*JSONOperator).Counters(); got["records_in"] != 2 || got["dead_letters"] != 2 {
		t.Errorf("counters %v, want %v", got, want)
	}
}

func TestJSONReusesBuildersAcrossBatches(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	_, op := newOp(t, mem, JSON(clickSchema, JSONOptions{Required: []string{"ts"}}), pipeline.RawSchema)
	events := clickEvents(300)
	total := 0
	var kept []*pipeline.Batch
	for i := 0; i < 300; i += 100 {
		main, dead := collect(t, op, rawBatch(mem, "s", events[i:i+100]))
		if len(dead) != 0 || len(main) != 1 {
			t.Fatalf("batch %d: %d main, %d dead-letter batches", i/100, len(main), len(dead))
		}
		total += main[0].Len()
		kept = append(kept, main...) // held across later batches
	}
	releaseAll(kept)
	if total != 300 {
		t.Errorf("decoded %d rows, want 300", total)
	}
	c := op.(*JSONOperator).Counters()
	if c["records_in"] != 300 || c["dead_letters"] != 0 {
		t.Errorf("counters %v", c)
	}
	if err := op.(*JSONOperator).Close(); err != nil {
		t.Fatal(err)
	}
}

// TestJSONAllocationsPerRecord checks that allocations grow with batches,
// not with records.
func TestJSONAllocationsPerRecord(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	mem := memory.NewGoAllocator()
	_, op := newOp(t, mem, JSON(clickSchema, JSONOptions{Required: []string{"ts"}}), pipeline.RawSchema)
	perBatch := func(n int) float64 {
		raw := rawBatch(mem, "s", clickEvents(n))
		defer raw.Release()
		emit := func(b *pipeline.Batch) { b.Release() }
		op.Process(t.Context(), rawCopy(raw), emit) // warm the builders up
		return testing.AllocsPerRun(20, func() {
			if err := op.Process(t.Context(), rawCopy(raw), emit); err != nil {
				t.Fatal(err)
			}
		})
	}
	small, large := perBatch(10), perBatch(2000)
	if large > small+5 {
		t.Errorf("%v allocations for a batch of 2000 records, %v for 10: records allocate", large, small)
	}
}

func rawCopy(b *pipeline.Batch) *pipeline.Batch {
	b.Rec.Retain()
	return b.WithRecord(b.Rec)
}

func TestJSONBindErrors(t *testing.T) {
	noSeq := arrow.NewSchema([]arrow.Field{
		{Name: "data", Type: arrow.BinaryTypes.Binary},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	tests := []struct {
		name   string
		schema *arrow.Schema
		opts   JSONOptions
		in     *arrow.Schema
		want   string
	}{
		{"unsupported type", arrow.NewSchema([]arrow.Field{{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64)}}, nil), JSONOptions{}, pipeline.RawSchema,
			`operators: json: column "l" has type list<item: int64, nullable>; supported: utf8, int64, float64, bool, timestamp[ms]`},
		{"seconds", arrow.NewSchema([]arrow.Field{{Name: "t", Type: arrow.FixedWidthTypes.Timestamp_s}}, nil), JSONOptions{}, pipeline.RawSchema,
			`operators: json: column "t" is timestamp[s, tz=UTC]; timestamps decode as timestamp[ms]`},
		{"required not in schema", typesSchema, JSONOptions{Required: []string{"tz"}}, pipeline.RawSchema,
			`operators: json: required field "tz" is not a column of the schema`},
		{"required twice", typesSchema, JSONOptions{Required: []string{"ts", "ts"}}, pipeline.RawSchema,
			`operators: json: "ts" listed twice in Required`},
		{"not raw input", typesSchema, JSONOptions{}, typesSchema,
			`operators: json: input has no "data" column (want pipeline.RawSchema)`},
		{"no seq", typesSchema, JSONOptions{}, noSeq, `operators: json: input has no "seq" column`},
		{"nil schema", nil, JSONOptions{}, pipeline.RawSchema, `operators: json: nil schema`},
		{"duplicate column", arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64}, {Name: "a", Type: arrow.PrimitiveTypes.Int64}}, nil), JSONOptions{}, pipeline.RawSchema,
			`operators: json: column "a" declared twice`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := JSON(tc.schema, tc.opts).Bind(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Bind error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestJSONOutputSchema(t *testing.T) {
	out, _, err := JSON(typesSchema, JSONOptions{Required: []string{"ts"}}).Bind(pipeline.RawSchema)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range out.Fields() {
		if want := f.Name != "ts"; f.Nullable != want {
			t.Errorf("field %s nullable %v, want %v", f.Name, f.Nullable, want)
		}
	}
}

func TestStageNames(t *testing.T) {
	tests := []struct {
		stage pipeline.Stage
		want  string
	}{
		{JSON(typesSchema, JSONOptions{Required: []string{"ts"}}), `json(s:utf8,i:int64,f:float64,b:bool,ts:timestamp[ms]; required=ts)`},
		{JSON(typesSchema, JSONOptions{Required: []string{"ts", "s"}}), `json(s:utf8,i:int64,f:float64,b:bool,ts:timestamp[ms]; required=s,ts)`},
		{JSON(typesSchema, JSONOptions{}), `json(s:utf8,i:int64,f:float64,b:bool,ts:timestamp[ms])`},
		{JSON(clickSchema, JSONOptions{Required: []string{"ts"}}), `json(event_id:utf8,user_id:utf8,session_id:utf8,event_type:utf8,page:utf8,referrer:utf8,ts:timestamp[ms, tz=UTC],price:float64; required=ts)`},
		{Project("ts", "page"), `project(ts,page)`},
		{Rename("page", "path"), `rename("page"->"path")`},
	}
	for _, tc := range tests {
		if got := tc.stage.Name(); got != tc.want {
			t.Errorf("Name() = %s\n          want %s", got, tc.want)
		}
	}
}

// TestJSONShardsShareDecoders runs the operators of many shards of one bound
// stage, concurrently (at most four decoding at once, as on a small
// machine), and wants each shard's rows decoded as on its own and far fewer
// decoders (column staging) made than there are shards: a shard holds a
// decoder only while it decodes a batch.
func TestJSONShardsShareDecoders(t *testing.T) {
	const shards, batches, rows = 64, 3, 50
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	_, newShardOp, err := JSON(clickSchema, JSONOptions{Required: []string{"ts"}}).Bind(pipeline.RawSchema)
	if err != nil {
		t.Fatal(err)
	}
	events := clickEvents(shards * batches * rows)
	// want: each batch decoded by an operator of its own stage binding.
	want := make([][]string, shards*batches)
	for i := range want {
		_, op := newOp(t, mem, JSON(clickSchema, JSONOptions{Required: []string{"ts"}}), pipeline.RawSchema)
		main, _ := collect(t, op, rawBatch(mem, "s", events[i*rows:(i+1)*rows]))
		for _, b := range main {
			want[i] = append(want[i], rowStrings(b.Rec)...)
		}
		releaseAll(main)
	}

	got := make([][]string, shards*batches)
	running := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for s := range shards {
		op, err := newShardOp(pipeline.OperatorEnv{Mem: mem, Source: "test", Shard: fmt.Sprint("shard-", s)})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for k := range batches {
				i := s*batches + k
				running <- struct{}{}
				err := op.Process(t.Context(), rawBatch(mem, "s", events[i*rows:(i+1)*rows]), func(b *pipeline.Batch) {
					got[i] = append(got[i], rowStrings(b.Rec)...)
					b.Release()
				})
				<-running
				if err != nil {
					t.Errorf("shard %d: %v", s, err)
				}
			}
		})
	}
	wg.Wait()
	for i := range want {
		if len(want[i]) != rows || !slices.Equal(got[i], want[i]) {
			t.Fatalf("batch %d: got %d rows, want %d; first got %q, want %q", i, len(got[i]), len(want[i]), got[i][:min(1, len(got[i]))], want[i][:1])
		}
	}
	// About one decoder per goroutine decoding at once (more where the free
	// list is shorter), never one per shard.
	sample, _ := newShardOp(pipeline.OperatorEnv{Mem: mem, Source: "test", Shard: "x"})
	if made := sample.(*JSONOperator).decoders.made.Load(); made >= shards/2 {
		t.Errorf("%d decoders made for %d shards", made, shards)
	}
}
