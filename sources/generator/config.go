package generator

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Defaults of Config.
const (
	DefaultShards        = 4
	DefaultBatchSize     = 1000
	DefaultEventInterval = 10 * time.Millisecond
	DefaultMaxDisorder   = 5 * time.Second

	// MaxShards bounds Config.Shards: each shard owns a share of the NumUsers users.
	MaxShards = 1000
	// MaxBatchSize bounds Config.BatchSize.
	MaxBatchSize = 1 << 20
)

// DefaultStart is the event-time origin when Config.Start is zero.
var DefaultStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// NoDisorder as Config.MaxDisorder produces every shard's events in event-time order.
const NoDisorder time.Duration = -1

// Config configures a generator. The zero value of every field but Seed means
// its default.
type Config struct {
	// Shards is the number of shards, "shard-0000", "shard-0001", ...; default 4.
	Shards int
	// Events is the total number of events across shards, split evenly (the
	// first Events % Shards shards get one more). 0 means unbounded.
	Events int64
	// Seed selects the event sequence; the same seed gives the same bytes.
	Seed int64
	// Rate limits the events per second across all shards; 0 means as fast as
	// possible.
	Rate float64
	// BatchSize is the maximum number of records per Read; default 1000.
	BatchSize int
	// Start is the event time of each shard's first event before disorder;
	// default DefaultStart (2026-01-01T00:00:00Z).
	Start time.Time
	// EventInterval is the event time between two consecutive events of one
	// shard; default 10ms.
	EventInterval time.Duration
	// MaxDisorder bounds how late an event is relative to the latest event time
	// its shard has produced; default 5s, NoDisorder for none. It is used in
	// whole milliseconds. Keep it below the job's watermark bound.
	MaxDisorder time.Duration
	// BadEvery makes every BadEvery-th record of a shard malformed JSON; 0 means
	// none.
	BadEvery int64
	// Mem allocates the batches; default memory.DefaultAllocator.
	Mem memory.Allocator
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Shards == 0 {
		c.Shards = DefaultShards
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	if c.EventInterval == 0 {
		c.EventInterval = DefaultEventInterval
	}
	switch {
	case c.MaxDisorder == 0:
		c.MaxDisorder = DefaultMaxDisorder
	case c.MaxDisorder == NoDisorder:
		c.MaxDisorder = 0
	}
	if c.Mem == nil {
		c.Mem = memory.DefaultAllocator
	}
	return c
}

// Validate reports the first problem of c, with defaults applied.
func (c Config) Validate() error {
	c = c.withDefaults()
	var err error
	switch {
	case c.Shards < 1 || c.Shards > MaxShards:
		err = fmt.Errorf("shards = %d, want 1..%d", c.Shards, MaxShards)
	case c.Events < 0:
		err = fmt.Errorf("events = %d, want >= 0 (0 = unbounded)", c.Events)
	case math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) || c.Rate < 0:
		err = fmt.Errorf("rate = %v, want a finite number >= 0 (0 = unlimited)", c.Rate)
	case c.BatchSize < 1 || c.BatchSize > MaxBatchSize:
		err = fmt.Errorf("batch size = %d, want 1..%d", c.BatchSize, MaxBatchSize)
	case c.Start.Year() < 1 || c.Start.Year() > 9000:
		err = fmt.Errorf("start = %v, want a year in 1..9000", c.Start)
	case c.EventInterval < 0:
		err = fmt.Errorf("event interval = %v, want > 0", c.EventInterval)
	case c.MaxDisorder < 0:
		err = fmt.Errorf("max disorder = %v, want >= 0 (or NoDisorder)", c.MaxDisorder)
	case c.MaxDisorder > 24*time.Hour:
		err = fmt.Errorf("max disorder = %v, want at most 24h", c.MaxDisorder)
	case c.BadEvery < 0:
		err = fmt.Errorf("bad every = %d, want >= 0 (0 = none)", c.BadEvery)
	}
	if err != nil {
		return fmt.Errorf("generator: invalid config: %w", err)
	}
	return nil
}

// ErrClosed is returned by Read on a closed shard reader.
var ErrClosed = errors.New("generator: shard reader closed")

// eventsOf is the number of events of shard s; -1 when unbounded.
func (c Config) eventsOf(s int) int64 {
	if c.Events == 0 {
		return -1
	}
	n := c.Events / int64(c.Shards)
	if int64(s) < c.Events%int64(c.Shards) {
		n++
	}
	return n
}
