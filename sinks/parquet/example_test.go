package parquet_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sinks/parquet"
)

// The runtime drives a sink like this: Bind when the job is built, Recover on
// start, Write for every result batch, PreCommit at a checkpoint barrier and
// Commit once the checkpoint is persisted.
func Example() {
	dir, _ := os.MkdirTemp("", "shardflow-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	sink, err := parquet.New(parquet.Config{Dir: dir, Table: "page_stats"})
	if err != nil {
		log.Fatal(err)
	}
	ts := &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "window_start", Type: ts},
		{Name: "page", Type: arrow.BinaryTypes.String},
		{Name: "events", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	if err := sink.Bind(schema); err != nil {
		log.Fatal(err)
	}
	// No checkpoint yet: the runtime chose a new run id, which every file
	// name of the run carries.
	if err := sink.Recover(ctx, pipeline.Recovery{Job: "example", Run: "3f9a0c12ab45"}); err != nil {
		log.Fatal(err)
	}

	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	start := pipeline.Millis(time.Date(2026, 3, 1, 22, 15, 0, 0, time.UTC))
	b.Field(0).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{arrow.Timestamp(start), arrow.Timestamp(start)}, nil)
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"/home", "/cart"}, nil)
	b.Field(2).(*array.Int64Builder).AppendValues([]int64{42, 7}, nil)
	rec := b.NewRecordBatch()
	b.Release()
	if err := sink.Write(ctx, &pipeline.Batch{Rec: rec}); err != nil {
		log.Fatal(err)
	}

	handle, err := sink.PreCommit(ctx, 1) // durable, invisible
	if err != nil {
		log.Fatal(err)
	}
	// ... the coordinator persists checkpoint 1 with handle ...
	if err := sink.Commit(ctx, 1, handle); err != nil {
		log.Fatal(err)
	}
	if err := sink.Close(ctx); err != nil {
		log.Fatal(err)
	}

	files, _ := filepath.Glob(filepath.Join(dir, "page_stats", "*", "*", "*.parquet"))
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f)
		fmt.Println(filepath.ToSlash(rel))
	}
	log, _ := filepath.Glob(filepath.Join(dir, "page_stats", "_shardflow", "*"))
	for _, f := range log {
		entry, _ := os.ReadFile(f)
		fmt.Printf("%s\n%s\n", filepath.Base(f), entry)
	}
	fmt.Println(sink.Counters())
	// Output:
	// page_stats/dt=2026-03-01/hour=22/part-3f9a0c12ab45-00000001-0000.parquet
	// commit-3f9a0c12ab45-00000001.parquet.json
	// {"version":1,"job":"example","run":"3f9a0c12ab45","epoch":0,"checkpoint":1,"files":["dt=2026-03-01/hour=22/part-3f9a0c12ab45-00000001-0000.parquet"]}
	// run-3f9a0c12ab45.parquet.json
	// {"version":1,"job":"example","run":"3f9a0c12ab45"}
	// map[commits:1 files_committed:1 files_forgotten:0 files_overwritten:0 rows_written:2]
}
