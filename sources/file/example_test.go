package file_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/file"
)

func ExampleNew() {
	dir, err := os.MkdirTemp("", "shardflow-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "clicks-1.jsonl")
	content := "{\"page\":\"/\"}\n\n{\"page\":\"/cart\"}\nnot json\n{\"page\":\"/checkout\"}"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		fmt.Println(err)
		return
	}

	src, err := file.New(file.Config{Glob: filepath.Join(dir, "*.jsonl")})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	shards, _ := src.Shards(ctx)
	// The last line has no newline yet: it is held back until its newline
	// is written, and the read ends before it (a later run reads on).
	// Resume after the first line (its position is the offset past it), as a
	// job restarted from a checkpoint would.
	r, err := src.OpenShard(ctx, shards[0], pipeline.Position{N: 13})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	for {
		b, err := r.Read(ctx)
		if err != nil {
			fmt.Println(err)
			break
		}
		data := b.Rec.Column(0).(*array.Binary)
		n := b.Rec.Column(3).(*array.Int64)
		for i := range b.Len() {
			fmt.Printf("%d %s\n", n.Value(i), data.Value(i))
		}
		b.Release()
	}

	_, err = file.New(file.Config{Glob: filepath.Join(dir, "*.csv")})
	fmt.Println(err != nil)
	// Output:
	// 31 {"page":"/cart"}
	// 40 not json
	// pipeline: bound of a bounded read reached
	// true
}
