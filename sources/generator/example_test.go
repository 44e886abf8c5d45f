package generator_test

import (
	"bytes"
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/generator"
)

func ExampleNew() {
	src, err := generator.New(generator.Config{Shards: 2, Events: 6, Seed: 42, MaxDisorder: generator.NoDisorder})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	shards, _ := src.Shards(ctx)
	// Resume shard 1 after its first event, as a job restarted from a checkpoint would.
	r, err := src.OpenShard(ctx, shards[1], pipeline.Position{N: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	for {
		b, err := r.Read(ctx)
		if err != nil {
			fmt.Println(err)
			return
		}
		data := b.Rec.Column(0).(*array.Binary)
		for i := range b.Len() {
			fmt.Printf("%s %s\n", b.Rec.Column(3).(*array.Int64).ValueStr(i), data.Value(i))
		}
		b.Release()
	}
	// Output:
	// 2 {"event_id":"e0001-1","user_id":"u0025","session_id":"saa5af23e81ee","event_type":"page_view","page":"/product/101","referrer":"","ts":"2026-01-01T00:00:00.010Z"}
	// 3 {"event_id":"e0001-2","user_id":"u3131","session_id":"s55c4f0ec315a","event_type":"page_view","page":"/","referrer":"","ts":"2026-01-01T00:00:00.020Z"}
	// pipeline: end of shard
}

func ExampleReference() {
	// A producer writes the same events that a generator source reads.
	ref, err := generator.NewReference(generator.Config{Shards: 4, Seed: 7})
	if err != nil {
		fmt.Println(err)
		return
	}
	var buf []byte
	for i := int64(0); i < 40; i++ {
		var key string
		buf, key, _ = ref.Append(buf[:0], 2, i)
		if bytes.Contains(buf, []byte(`"purchase"`)) {
			fmt.Printf("event %d of shard 2, partition key %s:\n%s\n", i, key, buf)
			return
		}
	}
	// Output:
	// event 20 of shard 2, partition key u0002:
	// {"event_id":"e0002-20","user_id":"u0002","session_id":"s519d27c97da3","event_type":"purchase","page":"/checkout","referrer":"https://t.co/","ts":"2026-01-01T00:00:00.000Z","price":203.57}
}
