package main

import (
	"fmt"
	"math"

	"github.com/dustin/go-humanize"
	"github.com/spf13/pflag"

	"github.com/shardflow/shardflow/internal/pebblestate"
	"github.com/shardflow/shardflow/pipeline"
)

// stateFlags bound the window stage's state (pipeline.WithStateLimit,
// WithStateSpill): --state-limit and --state-spill, of run and replay.
type stateFlags struct {
	limit string // a size: 1GiB, 512MB, 0 for none
	spill string // a directory for the spill stores, "" for none
}

func addStateFlags(fl *pflag.FlagSet, f *stateFlags) {
	fl.StringVar(&f.limit, "state-limit", "0", "most memory each instance of the window stage may hold in state (e.g. 1GiB, 512MB; 0: no limit); over it the job fails with the last checkpoint intact, or spills with --state-spill")
	fl.StringVar(&f.spill, "state-spill", "", "directory where the window stage moves its exact distinct sets (pebble databases, scratch) once over --state-limit, keeping results exact")
}

// bytes parses --state-limit.
func (f stateFlags) bytes() (int64, error) {
	n, err := humanize.ParseBytes(f.limit)
	if err != nil || n > math.MaxInt64 {
		return 0, fmt.Errorf("--state-limit %q: want a size such as 1GiB or 512MB", f.limit)
	}
	return int64(n), nil
}

// validate checks the flags; the error is one line.
func (f stateFlags) validate() error {
	n, err := f.bytes()
	if err != nil {
		return err
	}
	if f.spill != "" && n == 0 {
		return fmt.Errorf("--state-spill %s: needs --state-limit, the size over which the state spills", f.spill)
	}
	if f.spill != "" {
		return localDir("state-spill", f.spill)
	}
	return nil
}

// options returns the job options of the flags.
func (f stateFlags) options() []pipeline.Option {
	n, err := f.bytes()
	if err != nil || n == 0 {
		return nil
	}
	opts := []pipeline.Option{pipeline.WithStateLimit(n)}
	if f.spill != "" {
		opts = append(opts, pipeline.WithStateSpill(pebblestate.Opener(f.spill)))
	}
	return opts
}
