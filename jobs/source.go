package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/archive"
	"github.com/shardflow/shardflow/sources/file"
	"github.com/shardflow/shardflow/sources/generator"
	"github.com/shardflow/shardflow/sources/kinesis"
)

// SourceOptions tune the sources that OpenSource makes.
type SourceOptions struct {
	// Generator configures the "generator" source.
	Generator generator.Config
	// Kinesis configures "kinesis://" sources; OpenSource sets its Stream,
	// Consumer and (unless set) Client.
	Kinesis kinesis.Config
	// Archive configures "archive://" sources; OpenSource sets its URL and
	// (unless set) its S3 client.
	Archive archive.Config
	// Follow makes a "file://" source follow its files, as ?follow=1 does.
	Follow bool
	// Mem, when set, allocates the Arrow batches of whichever source
	// OpenSource makes, in place of Generator.Mem and Kinesis.Mem; nil
	// leaves each source its own (default memory.DefaultAllocator). The
	// shardflow command passes the arrowpool.Pool it also gives the job.
	Mem memory.Allocator
}

// DefaultGenerator is the generator of the embedded default run: a million
// clickstream events over four shards, about 42 minutes of event time, with a
// malformed record every 5,000 so that the dead letters have something to show.
func DefaultGenerator() generator.Config {
	return generator.Config{Shards: 4, Events: 1_000_000, Seed: 1, BadEvery: 5000}
}

// OpenSource makes the source that spec names:
//
//	generator                        synthetic clickstream (SourceOptions.Generator)
//	file://GLOB                      JSON-lines files, one shard per file
//	file://GLOB?follow=1             the same, unbounded: new lines and new files are read as they come
//	kinesis://STREAM                 a Kinesis stream by name or ARN, polled (SourceOptions.Kinesis)
//	kinesis://STREAM?consumer=NAME   the same through enhanced fan-out as consumer NAME
//
// It checks what it can before any record is read: a glob that matches no
// readable file, or a stream that cannot be listed, fails here. Kinesis
// clients come from the standard AWS configuration (AWS_REGION, AWS_PROFILE,
// AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_KINESIS, the credential chain).
func OpenSource(ctx context.Context, spec string, opts SourceOptions) (pipeline.Source, error) {
	kind, err := SourceKind(spec)
	if err != nil {
		return nil, err
	}
	_, rest, _ := strings.Cut(spec, "://")
	if opts.Mem != nil {
		opts.Generator.Mem, opts.Kinesis.Mem = opts.Mem, opts.Mem
	}
	switch kind {
	case SourceKinesis:
		return openKinesis(ctx, spec, rest, opts.Kinesis)
	case SourceArchive:
		return openArchive(ctx, spec, rest, opts)
	case SourceFile:
		cfg, err := fileConfig(rest)
		if err != nil {
			return nil, fmt.Errorf("jobs: source %q: %w", spec, err)
		}
		cfg.Follow = cfg.Follow || opts.Follow
		if opts.Mem != nil {
			cfg.Mem = opts.Mem
		}
		src, err := file.New(cfg)
		if err != nil {
			return nil, fmt.Errorf("jobs: source %q: %w", spec, err)
		}
		return src, nil
	}
	src, err := generator.New(opts.Generator)
	if err != nil {
		return nil, fmt.Errorf("jobs: source %q: %w", spec, err)
	}
	return src, nil
}

// The kinds of source that OpenSource opens.
const (
	SourceGenerator = "generator"
	SourceFile      = "file"
	SourceKinesis   = "kinesis"
)

// sourceSpecs names the specs OpenSource takes, for error messages.
const sourceSpecs = "generator, file://GLOB[?follow=1] or kinesis://STREAM[?consumer=NAME]"

// SourceKind tells which kind of source spec names (SourceGenerator,
// SourceFile or SourceKinesis) without opening it, so that a caller can check
// its other options first. A spec OpenSource would refuse is an error naming
// what it takes.
func SourceKind(spec string) (string, error) {
	scheme, rest, isURL := strings.Cut(spec, "://")
	switch {
	case spec == SourceGenerator:
		return SourceGenerator, nil
	case scheme == SourceFile && rest != "":
		return SourceFile, nil
	case scheme == SourceKinesis && rest != "":
		return SourceKinesis, nil
	case scheme == SourceArchive && (strings.HasPrefix(rest, "file://") || strings.HasPrefix(rest, "s3://")):
		return SourceArchive, nil
	case isURL && scheme != SourceFile && scheme != SourceKinesis && scheme != SourceArchive:
		return "", fmt.Errorf("jobs: unknown source %q: %s:// is not supported; want %s", spec, scheme, sourceSpecs)
	}
	return "", fmt.Errorf("jobs: unknown source %q: want %s", spec, sourceSpecs)
}

// openKinesis opens "kinesis://STREAM[?consumer=NAME]"; STREAM may be an ARN,
// whose colons and slashes a URL parser would misread.
func openKinesis(ctx context.Context, spec, rest string, cfg kinesis.Config) (pipeline.Source, error) {
	stream, query, _ := strings.Cut(rest, "?")
	params, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("jobs: source %q: %w", spec, err)
	}
	for k := range params {
		if k != "consumer" {
			return nil, fmt.Errorf("jobs: source %q: unknown parameter %q (want consumer)", spec, k)
		}
	}
	cfg.Stream, cfg.Consumer = stream, params.Get("consumer")
	if cfg.Client == nil {
		client, err := kinesis.LoadClient(ctx)
		if err != nil {
			return nil, fmt.Errorf("jobs: source %q: %w", spec, err)
		}
		cfg.Client = client
	}
	src, err := kinesis.New(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("jobs: source %q: %w", spec, err)
	}
	if _, err := src.Shards(ctx); err != nil {
		return nil, fmt.Errorf("jobs: source %q: %w", spec, err)
	}
	return src, nil
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
