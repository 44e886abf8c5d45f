package generator

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/shardflow/shardflow/pipeline"
)

var _ pipeline.Identifier = (*Source)(nil)

// identity is what a checkpoint records of a generator: everything that
// decides the events' bytes, and their number. Rate, BatchSize and Mem change
// only how fast and in which batches the same events arrive.
type identity struct {
	Version       int    `json:"v"`
	Shards        int    `json:"shards"`
	Seed          int64  `json:"seed"`
	Events        int64  `json:"events"` // 0: unbounded
	Start         string `json:"start"`
	EventInterval int64  `json:"event_interval_ns"`
	MaxDisorder   int64  `json:"max_disorder_ns"`
	BadEvery      int64  `json:"bad_every"`
}

func (s *Source) identity() identity {
	return identity{
		Version:       1,
		Shards:        s.cfg.Shards,
		Seed:          s.cfg.Seed,
		Events:        s.cfg.Events,
		Start:         s.cfg.Start.UTC().Format(time.RFC3339Nano),
		EventInterval: int64(s.cfg.EventInterval),
		MaxDisorder:   int64(s.cfg.MaxDisorder),
		BadEvery:      s.cfg.BadEvery,
	}
}

// Identity implements pipeline.Identifier: the configuration that decides
// the events, as JSON.
func (s *Source) Identity() []byte {
	b, _ := json.Marshal(s.identity()) // numbers and strings always marshal
	return b
}

// Resume implements pipeline.Identifier. A checkpoint of a generator with
// other shards, seed, start, interval, disorder or malformed records is
// refused: its positions would address other events. More events than the
// checkpoint's generator had (or unbounded) are the same input grown, and
// are read on; fewer are refused.
func (s *Source) Resume(prev []byte) error {
	if prev == nil {
		return nil // a checkpoint written before sources had identities
	}
	var was identity
	if err := json.Unmarshal(prev, &was); err != nil || was.Version != 1 {
		return fmt.Errorf("%w: the checkpoint's source is not a generator this version knows (%q); start over with a new checkpoint directory and --overwrite",
			pipeline.ErrIncompatibleSource, truncate(prev, 80))
	}
	now := s.identity()
	var diffs []string
	differ := func(flag string, was, now any) {
		diffs = append(diffs, fmt.Sprintf("%s %v (was %v)", flag, now, was))
	}
	if was.Shards != now.Shards {
		differ("--shards", was.Shards, now.Shards)
	}
	if was.Seed != now.Seed {
		differ("--seed", was.Seed, now.Seed)
	}
	if was.BadEvery != now.BadEvery {
		differ("--bad-every", was.BadEvery, now.BadEvery)
	}
	if was.Start != now.Start {
		differ("start", was.Start, now.Start)
	}
	if was.EventInterval != now.EventInterval {
		differ("event interval", time.Duration(was.EventInterval), time.Duration(now.EventInterval))
	}
	if was.MaxDisorder != now.MaxDisorder {
		differ("max disorder", time.Duration(was.MaxDisorder), time.Duration(now.MaxDisorder))
	}
	if now.Events != 0 && (was.Events == 0 || now.Events < was.Events) {
		differ("--events", was.Events, now.Events)
	}
	if len(diffs) == 0 {
		return nil
	}
	return fmt.Errorf("%w (another generator): %s; run with the generator it was taken of, or start over with a new checkpoint directory and --overwrite",
		pipeline.ErrIncompatibleSource, strings.Join(diffs, ", "))
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
