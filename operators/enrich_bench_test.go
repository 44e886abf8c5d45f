package operators

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
)

// enrichBenchTables writes the tables the Enrich benchmarks join decoded
// clickstream batches with: users (80,000 of clickEvents' 100,000 user ids,
// with a country and a signup day) and pages (the 7 pages, with a category).
func enrichBenchTables(b *testing.B) (users, pages string) {
	var sb strings.Builder
	sb.WriteString("user_id,country,signup_day\n")
	for u := range 100_000 {
		if u%5 != 4 {
			fmt.Fprintf(&sb, "u-%06d,c%d,%d\n", u, u%40, 19000+u%700)
		}
	}
	users = writeFile(b, "users.csv", sb.String())
	pages = writeFile(b, "pages.csv", "page,category\n/,home\n/search,search\n/product/123,product\n/product/456,product\n/cart,checkout\n/checkout,checkout\n/account,account\n")
	return users, pages
}

// BenchmarkEnrich measures Enrich on decoded clickstream batches of 1000
// rows: against 80,000 users (a fifth of the rows unmatched), kept or
// dropped, and against 7 pages. BenchmarkEnrichRowBuilders is the same users
// join done a row at a time with Arrow builders.
func BenchmarkEnrich(b *testing.B) {
	mem := memory.NewGoAllocator()
	events, _ := benchEvents()
	schema, dec := newOp(b, mem, JSON(clickSchema, JSONOptions{Required: []string{"ts"}}), pipeline.RawSchema)
	decoded, _ := collect(b, dec, rawBatch(mem, "s", events))
	batch := decoded[0]
	defer batch.Release()
	users, pages := enrichBenchTables(b)
	int32Day := map[string]arrow.DataType{"signup_day": arrow.PrimitiveTypes.Int32}
	for _, bc := range []struct {
		name  string
		stage *EnrichStage
	}{
		{"users", Enrich(CSVTable(users, int32Day), "user_id", "country", "signup_day")},
		{"users-drop", Enrich(CSVTable(users, int32Day), "user_id", "country", "signup_day").DropUnmatched()},
		{"pages", Enrich(CSVTable(pages, nil), "page", "category")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			_, op := newOp(b, mem, bc.stage, schema)
			ctx := context.Background()
			rows := 0
			emit := func(out *pipeline.Batch) { rows += out.Len(); out.Release() }
			m := meter(b, batch.Len())
			for b.Loop() {
				batch.Rec.Retain()
				if err := op.Process(ctx, batch.WithRecord(batch.Rec), emit); err != nil {
					b.Fatal(err)
				}
			}
			m.report()
			b.ReportMetric(float64(rows)/float64(b.N*batch.Len()), "out/row")
		})
	}
}

// BenchmarkEnrichRowBuilders is the baseline: the users lookup with
// arr.Value(i) per row and the appended columns built with Arrow builders.
func BenchmarkEnrichRowBuilders(b *testing.B) {
	mem := memory.NewGoAllocator()
	events, _ := benchEvents()
	_, dec := newOp(b, mem, JSON(clickSchema, JSONOptions{Required: []string{"ts"}}), pipeline.RawSchema)
	decoded, _ := collect(b, dec, rawBatch(mem, "s", events))
	batch := decoded[0]
	defer batch.Release()
	users, _ := enrichBenchTables(b)
	rec, _, err := CSVTable(users, map[string]arrow.DataType{"signup_day": arrow.PrimitiveTypes.Int32}).Load(mem)
	if err != nil {
		b.Fatal(err)
	}
	defer rec.Release()
	keys, country, day := rec.Column(0).(*array.String), rec.Column(1).(*array.String), rec.Column(2).(*array.Int32)
	index := make(map[string]int, keys.Len())
	for i := range keys.Len() {
		index[keys.Value(i)] = i
	}
	cb, db := array.NewStringBuilder(mem), array.NewInt32Builder(mem)
	defer cb.Release()
	defer db.Release()
	outFields := append(batch.Rec.Schema().Fields(),
		arrow.Field{Name: "country", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "signup_day", Type: arrow.PrimitiveTypes.Int32, Nullable: true})
	out := arrow.NewSchema(outFields, nil)
	m := meter(b, batch.Len())
	for b.Loop() {
		uid := batch.Rec.Column(1).(*array.String)
		for i := range uid.Len() {
			j, ok := index[uid.Value(i)]
			if !ok || uid.IsNull(i) {
				cb.AppendNull()
				db.AppendNull()
				continue
			}
			cb.Append(country.Value(j))
			db.Append(day.Value(j))
		}
		c, d := cb.NewArray(), db.NewArray()
		cols := append(batch.Rec.Columns(), c, d)
		r := array.NewRecordBatch(out, cols, batch.Rec.NumRows())
		c.Release()
		d.Release()
		r.Release()
	}
	m.report()
}
