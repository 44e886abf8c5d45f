package generator_test

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/sources/generator"
	"github.com/shardflow/shardflow/sources/sourcetest"
)

// referenceFixture builds a generator and the records its Reference expects.
func referenceFixture(t *testing.T, cfg generator.Config, opts ...generator.Option) sourcetest.Fixture {
	t.Helper()
	src, err := generator.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := generator.NewReference(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]sourcetest.Record{}
	for ev := range ref.All() {
		want[ev.Shard] = append(want[ev.Shard], sourcetest.Record{Data: ev.Data, PartitionKey: ev.PartitionKey, Pos: ev.Pos})
	}
	for s := range ref.Config().Shards {
		if _, ok := want[generator.ShardID(s)]; !ok {
			want[generator.ShardID(s)] = nil
		}
	}
	return sourcetest.Fixture{Source: src, Want: want}
}

func TestConformance(t *testing.T) {
	tests := []struct {
		name string
		cfg  generator.Config
	}{
		{"default", generator.Config{Events: 5_000, Seed: 7}},
		{"small batches, bad records", generator.Config{Shards: 3, Events: 2_000, Seed: 1, BatchSize: 97, BadEvery: 50}},
		{"fewer events than shards", generator.Config{Shards: 5, Events: 3, BatchSize: 1}},
		{"rate limited", generator.Config{Shards: 2, Events: 1_000, Rate: 100_000, BatchSize: 64}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sourcetest.Run(t, func(t *testing.T, mem memory.Allocator) sourcetest.Fixture {
				cfg := tc.cfg
				cfg.Mem = mem
				return referenceFixture(t, cfg)
			})
		})
	}
}
