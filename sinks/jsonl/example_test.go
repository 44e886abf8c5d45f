package jsonl_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sinks/jsonl"
)

// Dead letters are staged with each checkpoint and committed with it.
func Example() {
	dir, _ := os.MkdirTemp("", "shardflow-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	sink, err := jsonl.New(jsonl.Config{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	if err := sink.Bind(pipeline.DeadLetterSchema); err != nil {
		log.Fatal(err)
	}
	if err := sink.Recover(ctx, pipeline.Recovery{Job: "example", Run: "3f9a0c12ab45"}); err != nil {
		log.Fatal(err)
	}
	d := pipeline.NewDeadLetterBuilder(memory.DefaultAllocator, "file")
	d.Append("clicks.jsonl", pipeline.OffsetPosition(57), errors.New("json: missing ts"), []byte(`{"page":"/"}`))
	if err := sink.Write(ctx, d.NewBatch("clicks.jsonl")); err != nil {
		log.Fatal(err)
	}
	d.Release()
	handle, err := sink.PreCommit(ctx, 7)
	if err != nil {
		log.Fatal(err)
	}
	if err := sink.Commit(ctx, 7, handle); err != nil {
		log.Fatal(err)
	}
	out, _ := os.ReadFile(filepath.Join(dir, "part-3f9a0c12ab45-00000007-0000.jsonl"))
	fmt.Print(string(out))
	// Output:
	// {"source":"file","shard":"clicks.jsonl","position":"57","error":"json: missing ts","payload":"{\"page\":\"/\"}"}
}
