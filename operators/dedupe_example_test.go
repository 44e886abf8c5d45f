package operators_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/shardflow/shardflow/operators"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/file"
)

// printSink prints the event ids it is written.
type printSink struct{}

func (printSink) Name() string                { return "print" }
func (printSink) Bind(*arrow.Schema) error    { return nil }
func (printSink) Close(context.Context) error { return nil }
func (printSink) Write(_ context.Context, b *pipeline.Batch) error {
	defer b.Release()
	ids := b.Rec.Column(0).(*array.String)
	for i := range b.Len() {
		fmt.Println(ids.Value(i))
	}
	return nil
}

// A job that drops the records a producer put twice: the second e-2 is
// dropped; the second e-1 comes once the shard's clock (the highest event
// time it has seen) is twenty minutes past it, beyond the ten-minute ttl, and
// is kept.
func ExampleDedupe() {
	dir, err := os.MkdirTemp("", "dedupe-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "events.jsonl")
	os.WriteFile(path, []byte(`{"event_id":"e-1","ts":"2024-05-01T12:00:00Z"}
{"event_id":"e-2","ts":"2024-05-01T12:00:01Z"}
{"event_id":"e-2","ts":"2024-05-01T12:00:01Z"}
{"event_id":"e-3","ts":"2024-05-01T12:20:00Z"}
{"event_id":"e-1","ts":"2024-05-01T12:00:00Z"}
`), 0o644)

	src, err := file.New(file.Config{Glob: path})
	if err != nil {
		fmt.Println(err)
		return
	}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "event_id", Type: arrow.BinaryTypes.String},
		{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_ms},
	}, nil)
	dedupe := operators.Dedupe("event_id", "ts", 10*time.Minute)
	job, err := pipeline.New("events").
		From(src).
		Decode(operators.JSON(schema, operators.JSONOptions{Required: []string{"ts"}})).
		Apply(dedupe).
		To(printSink{}).
		Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := job.Run(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("duplicate_rows:", job.Stats().Components[dedupe.Name()]["duplicate_rows"])
	// Output:
	// e-1
	// e-2
	// e-3
	// e-1
	// duplicate_rows: 1
}
