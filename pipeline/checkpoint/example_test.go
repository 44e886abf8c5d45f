package checkpoint_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/pipeline/checkpoint"
)

func ExampleDir() {
	root, err := os.MkdirTemp("", "checkpoints")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(root)

	ctx := context.Background()
	store, err := checkpoint.NewDir(root, checkpoint.DirConfig{Keep: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	// On start: resume from the latest checkpoint, if any.
	cp, err := store.Latest(ctx, "clickstream")
	fmt.Println("latest:", cp, err)

	for id := uint64(1); id <= 3; id++ {
		err := store.Save(ctx, &pipeline.Checkpoint{
			ID:  id,
			Job: "clickstream",
			Shards: map[string]pipeline.ShardState{
				"shardId-000000000000": {Position: pipeline.OffsetPosition(int64(id) * 100)},
			},
			Operators: map[string][]byte{"window": []byte("state")},
		})
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	ids, _ := store.List("clickstream")
	fmt.Println("kept:", ids)

	cp, err = store.Latest(ctx, "clickstream")
	fmt.Println("latest:", cp.ID, cp.Shards["shardId-000000000000"].Position, err)

	// A truncated newest file (a disk that lied about fsync) is skipped.
	newest := filepath.Join(root, "clickstream", "chk-00000000000000000003.ckpt")
	if err := os.Truncate(newest, 10); err != nil {
		fmt.Println(err)
		return
	}
	cp, err = store.Latest(ctx, "clickstream")
	fmt.Println("latest:", cp.ID, err)

	err = store.Save(ctx, &pipeline.Checkpoint{ID: 2, Job: "clickstream"})
	fmt.Println(err)
	// Output:
	// latest: <nil> <nil>
	// kept: [2 3]
	// latest: 3 300 <nil>
	// latest: 2 <nil>
	// checkpoint: id is not newer than the latest checkpoint: job "clickstream": checkpoint 2, the latest is 2
}
