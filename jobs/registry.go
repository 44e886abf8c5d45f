package jobs

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sinks/featurestore"
)

// Env is what a ready-made job is built with.
type Env struct {
	// Source is where the job reads.
	Source pipeline.Source
	// OutDir is the root of the job's output: its tables and dead_letter/.
	OutDir string
	// Features is the URL of the online feature store of a job with a View
	// (see featurestore.ParseURL); default stores.Default.
	Features string
	// CheckpointDir holds the job's checkpoints.
	CheckpointDir string
	// CheckpointInterval is how often a checkpoint is taken.
	CheckpointInterval time.Duration
	// Logger receives the job's logs; nil discards them.
	Logger *slog.Logger
	// Options are passed to the job's Build.
	Options []pipeline.Option
}

// Validate reports what is missing from e.
func (e Env) Validate() error {
	switch {
	case e.Source == nil:
		return fmt.Errorf("jobs: no source")
	case e.OutDir == "":
		return fmt.Errorf("jobs: no output directory")
	case e.CheckpointDir == "":
		return fmt.Errorf("jobs: no checkpoint directory")
	case e.CheckpointInterval <= 0:
		return fmt.Errorf("jobs: checkpoint interval %v: want > 0", e.CheckpointInterval)
	}
	return nil
}

// Definition is a ready-made job.
type Definition struct {
	Name    string
	Summary string
	// Tables names the Parquet tables the job writes under Env.OutDir.
	Tables []string
	// View is the feature view the job keeps in an online store, nil for none.
	View *featurestore.View
	// Build declares and builds the job on env.
	Build func(env Env) (*pipeline.Job, error)
}

var registry = []Definition{Clickstream, Features, Sessions}

// All returns the ready-made jobs, by name.
func All() []Definition {
	return slices.SortedFunc(slices.Values(registry), func(a, b Definition) int { return strings.Compare(a.Name, b.Name) })
}

// Lookup returns the ready-made job called name.
func Lookup(name string) (Definition, error) {
	for _, d := range registry {
		if d.Name == name {
			return d, nil
		}
	}
	names := make([]string, len(registry))
	for i, d := range registry {
		names[i] = d.Name
	}
	return Definition{}, fmt.Errorf("jobs: no job %q (have: %s)", name, strings.Join(names, ", "))
}
