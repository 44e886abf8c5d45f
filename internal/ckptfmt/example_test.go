package ckptfmt_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/shardflow/shardflow/internal/ckptfmt"
	"github.com/shardflow/shardflow/pipeline"
)

func Example() {
	cp := &pipeline.Checkpoint{
		ID:        7,
		Job:       "clickstream",
		Created:   time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Watermark: 1735787045000,
		Shards: map[string]pipeline.ShardState{
			"shardId-000000000000": {Position: pipeline.Position{Seq: "4959033827149025660855969253836157109592157598913658889", N: 2}},
		},
		Operators: map[string][]byte{"window": make([]byte, 1000)},
	}
	data, err := ckptfmt.Encode(cp)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("encoded bytes:", len(data))

	back, err := ckptfmt.Decode(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(back.ID, back.Job, back.Shards["shardId-000000000000"].Position, len(back.Operators["window"]))

	data[20] ^= 1 // a bit flips on disk
	_, err = ckptfmt.Decode(data)
	fmt.Println(errors.Is(err, ckptfmt.ErrChecksum))
	// Output:
	// encoded bytes: 1143
	// 7 clickstream 4959033827149025660855969253836157109592157598913658889/2 1000
	// true
}
