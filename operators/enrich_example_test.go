package operators_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/operators"
	"github.com/shardflow/shardflow/pipeline"
)

// Enrich events with a page catalogue read from a CSV file: each row gets
// its page's category and title, nulls where the page is not in the
// catalogue.
func ExampleEnrich() {
	dir, err := os.MkdirTemp("", "enrich")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "pages.csv")
	catalogue := "page,category,title\n/product/101,shoes,Trail runner\n/product/102,shirts,Linen shirt\n"
	if err := os.WriteFile(path, []byte(catalogue), 0o644); err != nil {
		fmt.Println(err)
		return
	}

	events := arrow.NewSchema([]arrow.Field{
		{Name: "user_id", Type: arrow.BinaryTypes.String},
		{Name: "page", Type: arrow.BinaryTypes.String},
	}, nil)
	stage := operators.Enrich(operators.CSVTable(path, nil), "page", "category", "title")
	// Bind loads the table, as the job builder does; the stage's name, and
	// the job's fingerprint, now hold the SHA-256 of the file.
	out, newOp, err := stage.Bind(events)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.Replace(stage.Name(), dir, "$DIR", 1))
	fmt.Println(out)
	op, err := newOp(pipeline.OperatorEnv{Mem: memory.DefaultAllocator, Shard: "shard-0"})
	if err != nil {
		fmt.Println(err)
		return
	}

	b := array.NewRecordBuilder(memory.DefaultAllocator, events)
	defer b.Release()
	for _, e := range [][2]string{{"u1", "/product/102"}, {"u2", "/"}, {"u3", "/product/101"}} {
		b.Field(0).(*array.StringBuilder).Append(e[0])
		b.Field(1).(*array.StringBuilder).Append(e[1])
	}
	batch := &pipeline.Batch{Rec: b.NewRecordBatch(), Shard: "shard-0"}
	err = op.Process(context.Background(), batch, func(b *pipeline.Batch) {
		defer b.Release()
		for i := range b.Len() {
			fmt.Println(b.Rec.Column(0).ValueStr(i), b.Rec.Column(1).ValueStr(i), b.Rec.Column(2).ValueStr(i), b.Rec.Column(3).ValueStr(i))
		}
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output:
	// enrich($DIR/pages.csv sha256:0a35e181889d7c01, on=page: category,title)
	// schema:
	//   fields: 4
	//     - user_id: type=utf8
	//     - page: type=utf8
	//     - category: type=utf8, nullable
	//     - title: type=utf8, nullable
	// u1 /product/102 shirts Linen shirt
	// u2 / (null) (null)
	// u3 /product/101 shoes Trail runner
}
