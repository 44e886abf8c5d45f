package generator

import (
	"iter"

	"github.com/shardflow/shardflow/pipeline"
)

// Reference computes a configuration's events without a Source: what a
// producer writes into Kinesis and what a test expects a job to see. It is
// safe for concurrent use.
type Reference struct {
	cfg Config
	p   params
}

// NewReference returns the reference of cfg, or an error if cfg is invalid.
func NewReference(cfg Config) (*Reference, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Reference{cfg: cfg, p: newParams(cfg)}, nil
}

// Config returns the configuration with defaults applied.
func (r *Reference) Config() Config { return r.cfg }

// ShardEvents is the number of events of shard s (0-based), -1 when unbounded.
func (r *Reference) ShardEvents(s int) int64 { return r.cfg.eventsOf(s) }

// Append appends the record of event i (0-based; its Position.N is i+1) of
// shard s to dst. It returns the extended slice, the record's partition key
// (its user_id) and its event time in milliseconds; the time is also
// returned for malformed records.
func (r *Reference) Append(dst []byte, s int, i int64) (data []byte, partitionKey string, eventTime int64) {
	return r.p.appendEvent(dst, s, i)
}

// Event is one generated record.
type Event struct {
	Shard        string
	Pos          pipeline.Position
	Data         []byte
	PartitionKey string
	EventTime    int64 // ms since the epoch
	Malformed    bool
}

// Events yields the events of shard s (0-based) from the start; forever for
// an unbounded configuration. Each Event's Data is a fresh slice.
func (r *Reference) Events(s int) iter.Seq[Event] {
	return func(yield func(Event) bool) {
		n := r.cfg.eventsOf(s)
		for i := int64(0); n < 0 || i < n; i++ {
			data, key, ts := r.p.appendEvent(nil, s, i)
			ev := Event{
				Shard: ShardID(s), Pos: pipeline.Position{N: i + 1}, Data: data, PartitionKey: key,
				EventTime: ts, Malformed: r.cfg.BadEvery > 0 && (i+1)%r.cfg.BadEvery == 0,
			}
			if !yield(ev) {
				return
			}
		}
	}
}

// All yields the events of every shard, shard by shard (for an unbounded
// configuration it never gets past the first shard).
func (r *Reference) All() iter.Seq[Event] {
	return func(yield func(Event) bool) {
		for s := range r.cfg.Shards {
			for ev := range r.Events(s) {
				if !yield(ev) {
					return
				}
			}
		}
	}
}
