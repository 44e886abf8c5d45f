package operators

import (
	"context"
	stdjson "encoding/json"
	"fmt"
	"github.com/shardflow/shardflow/internal/cputime"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/expr"
	"github.com/shardflow/shardflow/pipeline"
)

// clickSchema is the clickstream schema the benchmarks decode.
var clickSchema = arrow.NewSchema([]arrow.Field{
	{Name: "event_id", Type: arrow.BinaryTypes.String},
	{Name: "user_id", Type: arrow.BinaryTypes.String},
	{Name: "session_id", Type: arrow.BinaryTypes.String},
	{Name: "event_type", Type: arrow.BinaryTypes.String},
	{Name: "page", Type: arrow.BinaryTypes.String},
	{Name: "referrer", Type: arrow.BinaryTypes.String},
	{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_ms},
	{Name: "price", Type: arrow.PrimitiveTypes.Float64},
}, nil)

// clickEvents returns n realistic clickstream events (about 230 bytes each);
// one in ten is a purchase with a price.
func clickEvents(n int) [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	types := []string{"page_view", "page_view", "page_view", "click", "click", "add_to_cart", "page_view", "click", "page_view", "purchase"}
	pages := []string{"/", "/search", "/product/123", "/product/456", "/cart", "/checkout", "/account"}
	refs := []string{"https://www.google.com/", "https://news.ycombinator.com/", "", "https://shop.example.com/product/123"}
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	out := make([][]byte, n)
	for i := range out {
		et := types[i%len(types)]
		ts := t0.Add(time.Duration(i) * 37 * time.Millisecond).Format("2006-01-02T15:04:05.000Z07:00")
		price := ""
		if et == "purchase" {
			price = fmt.Sprintf(`,"price":%.2f`, r.Float64()*200)
		}
		out[i] = fmt.Appendf(nil, `{"event_id":"%016x-%08x","user_id":"u-%06d","session_id":"s-%012x","event_type":"%s","page":"%s","referrer":"%s","ts":"%s"%s}`,
			r.Uint64(), i, r.IntN(100000), r.Uint64()&0xffffffffffff, et, pages[r.IntN(len(pages))], refs[r.IntN(len(refs))], ts, price)
	}
	return out
}

// rawBatch builds a raw batch of payloads at offsets 1..len(payloads).
func rawBatch(mem memory.Allocator, shard string, payloads [][]byte) *pipeline.Batch {
	rb := pipeline.NewRawBuilder(mem)
	defer rb.Release()
	for i, p := range payloads {
		rb.Append(p, "", pipeline.OffsetPosition(int64(i+1)), 0)
	}
	return rb.NewBatch(shard)
}

const benchBatch = 1000

func benchEvents() ([][]byte, int) {
	ev := clickEvents(benchBatch)
	size := 0
	for _, e := range ev {
		size += len(e)
	}
	return ev, size
}

// recordMeter reports records/s of wall time and, since the machine is
// shared, records per CPU second of the process (GC included): with -cpu 1
// that is the rate per core.
type recordMeter struct {
	b     *testing.B
	cpu0  time.Duration
	perOp int
}

func meter(b *testing.B, perOp int) *recordMeter {
	b.ReportAllocs()
	return &recordMeter{b: b, cpu0: cputime.Process(), perOp: perOp}
}

func (m *recordMeter) report() {
	n := float64(m.perOp) * float64(m.b.N)
	m.b.ReportMetric(n/m.b.Elapsed().Seconds(), "records/s")
	if cpu := cputime.Process() - m.cpu0; cpu > 0 {
		m.b.ReportMetric(n/cpu.Seconds(), "records/cpu-s")
	}
}

// BenchmarkDecodeJSON measures the JSON operator end to end: raw batch in,
// Arrow batch of clickSchema out.
func BenchmarkDecodeJSON(b *testing.B) {
	mem := memory.NewGoAllocator()
	events, size := benchEvents()
	raw := rawBatch(mem, "s", events)
	defer raw.Release()
	stage := JSON(clickSchema, JSONOptions{Required: []string{"ts"}})
	_, newOp, err := stage.Bind(pipeline.RawSchema)
	if err != nil {
		b.Fatal(err)
	}
	op, err := newOp(pipeline.OperatorEnv{Mem: mem, Source: "bench", Shard: "s"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var rows int
	emit := func(out *pipeline.Batch) { rows += out.Len(); out.Release() }
	b.SetBytes(int64(size))
	m := meter(b, benchBatch)
	for b.Loop() {
		raw.Rec.Retain()
		if err := op.Process(ctx, raw.WithRecord(raw.Rec), emit); err != nil {
			b.Fatal(err)
		}
	}
	if rows != benchBatch*b.N {
		b.Fatalf("decoded %d rows, want %d", rows, benchBatch*b.N)
	}
	m.report()
}

// BenchmarkDecodeJSONStdlibMap is the baseline: encoding/json into a
// map[string]any per record, then appended to the same builders.
func BenchmarkDecodeJSONStdlibMap(b *testing.B) {
	mem := memory.NewGoAllocator()
	events, size := benchEvents()
	rb := array.NewRecordBuilder(mem, clickSchema)
	defer rb.Release()
	b.SetBytes(int64(size))
	mt := meter(b, benchBatch)
	for b.Loop() {
		for _, e := range events {
			var m map[string]any
			if err := stdjson.Unmarshal(e, &m); err != nil {
				b.Fatal(err)
			}
			for i, f := range clickSchema.Fields() {
				v, ok := m[f.Name]
				switch {
				case !ok || v == nil:
					rb.Field(i).AppendNull()
				case f.Name == "ts":
					t, err := time.Parse(time.RFC3339Nano, v.(string))
					if err != nil {
						b.Fatal(err)
					}
					rb.Field(i).(*array.TimestampBuilder).Append(arrow.Timestamp(t.UnixMilli()))
				case f.Name == "price":
					rb.Field(i).(*array.Float64Builder).Append(v.(float64))
				default:
					rb.Field(i).(*array.StringBuilder).Append(v.(string))
				}
			}
		}
		rb.NewRecordBatch().Release()
	}
	mt.report()
}

// BenchmarkFilter measures Filter on decoded clickstream batches of 1000
// rows: a selective predicate (purchases, 10%) and a permissive one.
func BenchmarkFilter(b *testing.B) {
	mem := memory.NewGoAllocator()
	events, _ := benchEvents()
	schema, dec := newOp(b, mem, JSON(clickSchema, JSONOptions{Required: []string{"ts"}}), pipeline.RawSchema)
	decoded, _ := collect(b, dec, rawBatch(mem, "s", events))
	batch := decoded[0]
	defer batch.Release()
	for _, p := range []expr.Predicate{
		expr.Eq("event_type", "purchase"),
		expr.And(expr.Ne("page", "/"), expr.NotNull("referrer")),
	} {
		b.Run(p.String(), func(b *testing.B) {
			_, op := newOp(b, mem, Filter(p), schema)
			ctx := context.Background()
			kept := 0
			emit := func(out *pipeline.Batch) { kept += out.Len(); out.Release() }
			m := meter(b, batch.Len())
			for b.Loop() {
				batch.Rec.Retain()
				if err := op.Process(ctx, batch.WithRecord(batch.Rec), emit); err != nil {
					b.Fatal(err)
				}
			}
			m.report()
			b.ReportMetric(float64(kept)/float64(b.N*batch.Len()), "kept/row")
		})
	}
}
