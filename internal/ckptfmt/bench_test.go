package ckptfmt

import (
	"fmt"
	"testing"
	"time"

	"github.com/shardflow/shardflow/pipeline"
)

// bigCheckpoint has 1,000 Kinesis shards (half with a parent) and 10 MB of
// operator state.
func bigCheckpoint() *pipeline.Checkpoint {
	cp := &pipeline.Checkpoint{
		ID: 1, Job: "bench", Fingerprint: "sha256:0123456789abcdef", Created: time.Unix(1750000000, 0),
		Watermark: 1750000000000,
		Shards:    make(map[string]pipeline.ShardState, 1000),
		Operators: map[string][]byte{"window": make([]byte, 10<<20)},
		Sinks:     map[string][]byte{"parquet": make([]byte, 200), "dead_letters": make([]byte, 200)},
	}
	for i := range 1000 {
		s := pipeline.ShardState{
			Position:     pipeline.Position{Seq: fmt.Sprintf("495903382714902566085596925383615710959215759891365%05d", i), N: int64(i % 7)},
			MaxEventTime: 1750000000000 + int64(i),
		}
		if i%2 == 1 {
			s.Parents = []string{fmt.Sprintf("shardId-%012d", i-1)}
		}
		cp.Shards[fmt.Sprintf("shardId-%012d", i)] = s
	}
	return cp
}

func BenchmarkEncode(b *testing.B) {
	cp := bigCheckpoint()
	b.SetBytes(int64(len(mustEncode(b, cp))))
	for b.Loop() {
		if _, err := Encode(cp); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	data := mustEncode(b, bigCheckpoint())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}
