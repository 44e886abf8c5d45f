package checkpoint_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
	// On start: take the job's lock, then resume from the latest checkpoint,
	// if any.
	lock, err := store.Acquire(ctx, "clickstream")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer lock.Release()
	fmt.Println("epoch:", lock.Epoch())
	cp, err := store.Latest(ctx, "clickstream")
	fmt.Println("latest:", cp, err)

	for id := uint64(1); id <= 3; id++ {
		err := store.Save(ctx, &pipeline.Checkpoint{
			ID:    id,
			Job:   "clickstream",
			Epoch: lock.Epoch(),
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

	// A truncated newest file (a disk that lied about fsync) is refused, not
	// skipped: its output may have been committed.
	newest := filepath.Join(root, "clickstream", "chk-00000000000000000003.ckpt")
	if err := os.Truncate(newest, 10); err != nil {
		fmt.Println(err)
		return
	}
	_, err = store.Latest(ctx, "clickstream")
	fmt.Println(errors.Is(err, checkpoint.ErrUnreadableCheckpoint), strings.ReplaceAll(err.Error(), root, "<root>"))
	// Output:
	// epoch: 1
	// latest: <nil> <nil>
	// kept: [2 3]
	// latest: 3 300 <nil>
	// true checkpoint: job "clickstream": the newest checkpoint <root>/clickstream/chk-00000000000000000003.ckpt cannot be read (ckptfmt: truncated input: 10 bytes, the header alone is 14); its output may be committed, so shardflow will not fall back to checkpoint 2: restore the file, or start over with a new checkpoint directory and --overwrite
}
