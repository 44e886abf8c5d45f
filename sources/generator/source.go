package generator

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/shardflow/shardflow/pipeline"
)

// Name is the generator's Source.Name.
const Name = "generator"

var (
	_ pipeline.Source      = (*Source)(nil)
	_ pipeline.ShardReader = (*reader)(nil)
)

// Source generates clickstream events (see the package documentation).
type Source struct {
	cfg    Config
	p      params
	clock  Clock
	shards []pipeline.Shard
}

// New returns a generator for cfg, or an error if cfg is invalid.
func New(cfg Config, opts ...Option) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := checkRawSchema(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Source{cfg: cfg, p: newParams(cfg), clock: wallClock{}}
	for _, o := range opts {
		o(s)
	}
	if s.clock == nil {
		return nil, fmt.Errorf("generator: nil clock")
	}
	s.shards = make([]pipeline.Shard, cfg.Shards)
	for i := range s.shards {
		s.shards[i] = pipeline.Shard{ID: ShardID(i)}
	}
	return s, nil
}

// ShardID is the id of shard s: "shard-0000", "shard-0001", ...
func ShardID(s int) string { return "shard-" + pad4(s) }

// shardIndex parses a shard id of a generator with n shards.
func shardIndex(id string, n int) (int, bool) {
	digits, ok := strings.CutPrefix(id, "shard-")
	if !ok || len(digits) < 4 {
		return 0, false
	}
	s, err := strconv.Atoi(digits)
	if err != nil || s < 0 || s >= n || ShardID(s) != id {
		return 0, false
	}
	return s, true
}

// Name returns "generator".
func (s *Source) Name() string { return Name }

// Bounded reports whether Config.Events > 0.
func (s *Source) Bounded() bool { return s.cfg.Events > 0 }

// Shards lists the configured shards; they have no parents.
func (s *Source) Shards(context.Context) ([]pipeline.Shard, error) {
	return append([]pipeline.Shard(nil), s.shards...), nil
}

// OpenShard starts shard after position after: after.N events of the shard
// are skipped, without computing them.
func (s *Source) OpenShard(_ context.Context, shard pipeline.Shard, after pipeline.Position) (pipeline.ShardReader, error) {
	idx, ok := shardIndex(shard.ID, s.cfg.Shards)
	if !ok {
		return nil, fmt.Errorf("generator: unknown shard %q (have %d shards)", shard.ID, s.cfg.Shards)
	}
	if after.IsEarliest() {
		after = pipeline.Position{} // the start of the shard
	}
	n := s.cfg.eventsOf(idx)
	if after.Seq != "" || after.N < 0 || (n >= 0 && after.N > n) {
		return nil, fmt.Errorf("generator: shard %s: position %q out of range (shard has %d events)", shard.ID, after, n)
	}
	r := &reader{
		src:   s,
		shard: idx,
		id:    shard.ID,
		next:  after.N,
		end:   n,
		enc:   encoder{p: &s.p},
	}
	if s.cfg.Rate > 0 {
		r.bucket = newBucket(s.clock, s.cfg.Rate/float64(s.cfg.Shards), s.cfg.BatchSize)
	}
	return r, nil
}

// reader reads one generator shard.
type reader struct {
	src   *Source
	shard int
	id    string
	next  int64 // index of the next event; its Position.N is next+1
	end   int64 // number of events of the shard; -1 when unbounded
	enc   encoder
	// perEvent is the data bytes per event of the last batch, rounded up; 0
	// before the first.
	perEvent int
	bucket   *bucket
	closed   bool
}

// Read returns up to BatchSize events; a nil batch when the rate limit lets
// none through within about 200ms; pipeline.ErrShardEnd after the last one.
func (r *reader) Read(ctx context.Context) (*pipeline.Batch, error) {
	if r.closed {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := int64(r.src.cfg.BatchSize)
	if r.end >= 0 {
		if r.next >= r.end {
			return nil, pipeline.ErrShardEnd
		}
		n = min(n, r.end-r.next)
	}
	if r.bucket != nil {
		k, err := r.bucket.take(ctx, int(n))
		if err != nil {
			return nil, err
		}
		n = int64(k)
	}
	if n == 0 {
		return nil, nil
	}
	return r.readBatch(int(n)), nil
}

// Close ends the reader; it is idempotent. A reader holds no buffers between
// batches.
func (r *reader) Close() error {
	r.closed = true
	return nil
}
