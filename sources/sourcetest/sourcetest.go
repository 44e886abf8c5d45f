package sourcetest

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
)

// Record is one record a shard delivers.
type Record struct {
	Data         []byte
	PartitionKey string
	// Pos is the record's position. The zero Position in a Fixture's Want means
	// "not known in advance" (e.g. Kinesis sequence numbers); only data and
	// partition key are compared then.
	Pos pipeline.Position
}

// Fixture is a source under test and what it must deliver.
type Fixture struct {
	Source pipeline.Source
	// Want holds, for every shard the source lists (empty ones included), the
	// records it delivers when read from the zero Position, in order.
	Want map[string][]Record
}

// Factory builds a fresh fixture whose source allocates from mem. It fails t
// (t.Fatal) when it cannot, and registers its own cleanup with t.Cleanup.
type Factory func(t *testing.T, mem memory.Allocator) Fixture

// Options tunes the suite for slow sources.
type Options struct {
	// ReadTimeout bounds one Read call; default 10s. The contract says about a
	// second; the bound catches a Read that blocks instead of returning now
	// and then, and leaves room for a loaded machine under the race detector
	// (a 2 s bound failed there on one-record reads of a busy 2-core CI box).
	ReadTimeout time.Duration
	// ShardTimeout bounds reading one shard from start to end; default 60s.
	ShardTimeout time.Duration
	// Cuts is the number of random resume points per shard, besides the first
	// and the last record; default 3.
	Cuts int
	// Seed seeds the choice of cut points; default 1.
	Seed uint64
}

func (o Options) withDefaults() Options {
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 10 * time.Second
	}
	if o.ShardTimeout <= 0 {
		o.ShardTimeout = 60 * time.Second
	}
	if o.Cuts <= 0 {
		o.Cuts = 3
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	return o
}

// Run runs the conformance suite with default Options.
func Run(t *testing.T, factory Factory) { RunWith(t, factory, Options{}) }

// RunWith runs the conformance suite.
func RunWith(t *testing.T, factory Factory, opts Options) {
	opts = opts.withDefaults()
	tests := []struct {
		name string
		fn   func(t *testing.T, fx Fixture, opts Options)
	}{
		{"Shards", testShards},
		{"ReadAll", testReadAll},
		{"ReadConcurrently", testReadConcurrently},
		{"Resume", testResume},
		{"CloseIsIdempotent", testClose},
		{"CanceledContext", testCanceled},
		{"UnknownShard", testUnknownShard},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			fx := factory(t, mem)
			if fx.Source == nil {
				t.Fatal("sourcetest: factory returned no source")
			}
			tc.fn(t, fx, opts)
		})
	}
}

// listShards returns the source's shards sorted by id, checked against Want.
func listShards(t *testing.T, fx Fixture) []pipeline.Shard {
	t.Helper()
	shards, err := fx.Source.Shards(t.Context())
	if err != nil {
		t.Fatalf("Shards: %v", err)
	}
	shards = slices.Clone(shards)
	sort.Slice(shards, func(i, j int) bool { return shards[i].ID < shards[j].ID })
	var got []string
	for _, s := range shards {
		got = append(got, s.ID)
	}
	var want []string
	for id := range fx.Want {
		want = append(want, id)
	}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("Shards = %q, want %q", got, want)
	}
	return shards
}

func testShards(t *testing.T, fx Fixture, _ Options) {
	shards := listShards(t, fx)
	for i, s := range shards {
		if s.ID == "" {
			t.Errorf("shard %d has an empty id", i)
		}
		if i > 0 && shards[i-1].ID == s.ID {
			t.Errorf("shard %q listed twice", s.ID)
		}
		if slices.Contains(s.Parents, s.ID) {
			t.Errorf("shard %q is its own parent", s.ID)
		}
	}
	if fx.Source.Name() == "" {
		t.Error("Name() is empty")
	}
	again, err := fx.Source.Shards(t.Context())
	if err != nil {
		t.Fatalf("Shards (second call): %v", err)
	}
	if len(again) != len(shards) {
		t.Errorf("second Shards call lists %d shards, first %d", len(again), len(shards))
	}
}

func testReadAll(t *testing.T, fx Fixture, opts Options) {
	for _, sh := range listShards(t, fx) {
		got, err := readShard(t.Context(), fx.Source, sh, pipeline.Position{}, len(fx.Want[sh.ID]), opts)
		if err != nil {
			t.Errorf("shard %s: %v", sh.ID, err)
			continue
		}
		if err := diffRecords(got, fx.Want[sh.ID]); err != nil {
			t.Errorf("shard %s: read from the start: %v", sh.ID, err)
		}
	}
}

func testReadConcurrently(t *testing.T, fx Fixture, opts Options) {
	shards := listShards(t, fx)
	got := make([][]Record, len(shards))
	errs := make([]error, len(shards))
	var wg sync.WaitGroup
	for i, sh := range shards {
		wg.Go(func() {
			got[i], errs[i] = readShard(t.Context(), fx.Source, sh, pipeline.Position{}, len(fx.Want[sh.ID]), opts)
		})
	}
	wg.Wait()
	for i, sh := range shards {
		if errs[i] != nil {
			t.Errorf("shard %s: %v", sh.ID, errs[i])
			continue
		}
		if err := diffRecords(got[i], fx.Want[sh.ID]); err != nil {
			t.Errorf("shard %s: concurrent read: %v", sh.ID, err)
		}
	}
}

func testResume(t *testing.T, fx Fixture, opts Options) {
	rng := rand.New(rand.NewPCG(opts.Seed, 0x5eed))
	for _, sh := range listShards(t, fx) {
		full, err := readShard(t.Context(), fx.Source, sh, pipeline.Position{}, len(fx.Want[sh.ID]), opts)
		if err != nil {
			t.Errorf("shard %s: %v", sh.ID, err)
			continue
		}
		if len(full) == 0 {
			continue
		}
		cuts := []int{0, len(full) - 1}
		for range opts.Cuts {
			cuts = append(cuts, rng.IntN(len(full)))
		}
		for _, k := range cuts {
			after := full[k].Pos
			got, err := readShard(t.Context(), fx.Source, sh, after, len(full)-k-1, opts)
			if err != nil {
				t.Errorf("shard %s: resume after record %d (%s): %v", sh.ID, k, after, err)
				continue
			}
			if err := diffRecords(got, full[k+1:]); err != nil {
				t.Errorf("shard %s: resume after record %d (%s): %v", sh.ID, k, after, err)
			}
		}
	}
}

func testClose(t *testing.T, fx Fixture, opts Options) {
	for _, sh := range listShards(t, fx) {
		r, err := fx.Source.OpenShard(t.Context(), sh, pipeline.Position{})
		if err != nil {
			t.Fatalf("shard %s: OpenShard: %v", sh.ID, err)
		}
		if len(fx.Want[sh.ID]) > 0 {
			b, _, err := timedRead(t.Context(), r, opts)
			b.Release()
			if err != nil && !pipeline.ReadEnded(err) {
				t.Errorf("shard %s: Read: %v", sh.ID, err)
			}
		}
		for i := range 2 {
			if err := r.Close(); err != nil {
				t.Errorf("shard %s: Close #%d: %v", sh.ID, i+1, err)
			}
		}
	}
}

func testCanceled(t *testing.T, fx Fixture, opts Options) {
	for _, sh := range listShards(t, fx) {
		r, err := fx.Source.OpenShard(t.Context(), sh, pipeline.Position{})
		if err != nil {
			t.Fatalf("shard %s: OpenShard: %v", sh.ID, err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		b, d, err := timedRead(ctx, r, opts)
		b.Release()
		if d > opts.ReadTimeout {
			t.Errorf("shard %s: Read with a canceled context took %v, want <= %v", sh.ID, d, opts.ReadTimeout)
		}
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, pipeline.ErrShardEnd) {
			t.Errorf("shard %s: Read with a canceled context: %v, want nil, ErrShardEnd or context.Canceled", sh.ID, err)
		}
		if err := r.Close(); err != nil {
			t.Errorf("shard %s: Close: %v", sh.ID, err)
		}
	}
}

func testUnknownShard(t *testing.T, fx Fixture, opts Options) {
	sh := pipeline.Shard{ID: "sourcetest-no-such-shard"}
	r, err := fx.Source.OpenShard(t.Context(), sh, pipeline.Position{})
	if err != nil {
		return
	}
	defer r.Close()
	b, _, err := timedRead(t.Context(), r, opts)
	b.Release()
	if err == nil || errors.Is(err, pipeline.ErrShardEnd) {
		t.Errorf("reading unknown shard %q: err = %v, want an error from OpenShard or Read", sh.ID, err)
	}
}
