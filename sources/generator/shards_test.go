package generator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shardflow/shardflow/sources/generator"
)

// For every shard count, including ones that do not divide NumUsers and the
// maximum, each shard is a pure function of (Seed, Shards, shard, index):
// two sources agree, the Reference agrees, resuming agrees, and every user
// stays in its shard (u % Shards).
func TestDeterministicForEveryShardCount(t *testing.T) {
	for _, shards := range []int{1, 3, 7, 999, generator.MaxShards} {
		cfg := generator.Config{Shards: shards, Events: int64(shards) * 40, Seed: 5, BatchSize: 16, BadEvery: 13}
		ref, err := generator.NewReference(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []int{0, shards / 2, shards - 1} {
			a := readShard(t, mustNew(t, cfg), s, 0, -1)
			b := readShard(t, mustNew(t, cfg), s, 17, -1)
			if len(a) != 40 || len(b) != 23 {
				t.Fatalf("shards=%d shard %d: read %d and %d records, want 40 and 23", shards, s, len(a), len(b))
			}
			for i, rec := range a {
				want, _, _ := ref.Append(nil, s, int64(i))
				if !bytes.Equal(rec, want) || (i >= 17 && !bytes.Equal(rec, b[i-17])) {
					t.Fatalf("shards=%d shard %d record %d differs between runs, resume or Reference", shards, s, i)
				}
				var ev struct {
					UserID string `json:"user_id"`
				}
				if json.Unmarshal(rec, &ev) != nil {
					continue // a bad record
				}
				if u, err := strconv.Atoi(ev.UserID[1:]); err != nil || u%shards != s {
					t.Fatalf("shards=%d shard %d: user %s belongs to another shard", shards, s, ev.UserID)
				}
			}
		}
	}
}

// An unbounded, rate-limited reader waiting for tokens on the wall clock
// returns as soon as its context is cancelled, not at the end of its wait
// (synctest's fake time makes "as soon as" exact).
func TestUnboundedRateLimitedReadReturnsOnCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := mustNew(t, generator.Config{Shards: 4, Rate: 0.01})
		r := openAll(t, src, 1)[0]
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		if b, err := r.Read(ctx); err != nil || b != nil { // the bucket starts empty: waits 200ms
			t.Fatalf("first Read = %v, %v; want nil, nil", b, err)
		}
		time.AfterFunc(20*time.Millisecond, cancel)
		start := time.Now()
		_, err := r.Read(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Read = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d != 20*time.Millisecond {
			t.Errorf("Read returned %v after it started, want 20ms (the cancel)", d)
		}
	})
}
