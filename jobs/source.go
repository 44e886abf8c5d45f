package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/file"
	"github.com/shardflow/shardflow/sources/generator"
)

// SourceOptions tune the sources that OpenSource makes.
type SourceOptions struct {
	// Generator configures the "generator" source.
	Generator generator.Config
}

// DefaultGenerator is the generator of the embedded default run: a million
// clickstream events over four shards, about 42 minutes of event time, with a
// malformed record every 5,000 so that the dead letters have something to show.
func DefaultGenerator() generator.Config {
	return generator.Config{Shards: 4, Events: 1_000_000, Seed: 1, BadEvery: 5000}
}

// OpenSource makes the source that spec names:
//
//	generator          synthetic clickstream (SourceOptions.Generator)
//	file://GLOB        JSON-lines files, one shard per file
//
// It checks what it can before any record is read: a glob that matches no
// readable file fails here.
func OpenSource(ctx context.Context, spec string, opts SourceOptions) (pipeline.Source, error) {
	scheme, rest, _ := strings.Cut(spec, "://")
	switch {
	case spec == "generator":
		src, err := generator.New(opts.Generator)
		if err != nil {
			return nil, fmt.Errorf("jobs: source %q: %w", spec, err)
		}
		return src, nil
	case scheme == "file" && rest != "":
		glob, err := url.PathUnescape(rest)
		if err != nil {
			return nil, fmt.Errorf("jobs: source %q: %w", spec, err)
		}
		src, err := file.New(file.Config{Glob: glob})
		if err != nil {
			return nil, fmt.Errorf("jobs: source %q: %w", spec, err)
		}
		return src, nil
	}
	return nil, fmt.Errorf("jobs: unknown source %q: want generator or file://GLOB", spec)
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
