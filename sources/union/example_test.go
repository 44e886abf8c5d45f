package union_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/generator"
	"github.com/shardflow/shardflow/sources/union"
)

func ExampleNew() {
	gen := func(seed int64) *generator.Source {
		src, err := generator.New(generator.Config{Shards: 2, Events: 4, Seed: seed, MaxDisorder: generator.NoDisorder})
		if err != nil {
			panic(err)
		}
		return src
	}
	// Two inputs read as one, e.g. two Kinesis streams; each member's name
	// prefixes its shard ids.
	src, err := union.New(union.Member{Name: "web", Source: gen(1)}, union.Member{Name: "app", Source: gen(2)})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	shards, _ := src.Shards(ctx)
	for _, sh := range shards {
		fmt.Println(sh.ID)
	}
	// Resume shard app/shard-0001 after its first event, as a job restarted
	// from a checkpoint would: the position is the member's own.
	r, err := src.OpenShard(ctx, shards[3], pipeline.Position{N: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	b, err := r.Read(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(b.Shard, b.First, b.Rec.Column(1).(*array.String).Value(0))
	b.Release()

	// A checkpoint of this union is refused by a union of other members.
	taken := src.Identity()
	other, _ := union.New(union.Member{Name: "web", Source: gen(1)})
	err = other.Resume(taken)
	fmt.Println(errors.Is(err, pipeline.ErrIncompatibleSource))
	// Output:
	// web/shard-0000
	// web/shard-0001
	// app/shard-0000
	// app/shard-0001
	// app/shard-0001 2 u4951
	// true
}
