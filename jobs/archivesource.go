package jobs

import (
	"context"
	"fmt"
	"strings"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sinks/s3out"
	"github.com/shardflow/shardflow/sources/archive"
)

// SourceArchive is the kind of "archive://file://GLOB" and
// "archive://s3://BUCKET/PREFIX": JSON-lines archives, plain or gzip, one
// shard per file or object (sources/archive). shardflow replay turns
// --source file://GLOB and s3://BUCKET/PREFIX into these.
const SourceArchive = "archive"

// openArchive opens "archive://URL"; S3 clients come from the standard AWS
// configuration, as the S3 output's do (s3out.NewClient).
func openArchive(ctx context.Context, spec, url string, opts SourceOptions) (pipeline.Source, error) {
	cfg := opts.Archive
	cfg.URL = url
	if opts.Mem != nil {
		cfg.Mem = opts.Mem
	}
	if strings.HasPrefix(url, "s3://") && cfg.S3 == nil {
		c, err := s3out.NewClient(ctx)
		if err != nil {
			return nil, fmt.Errorf("jobs: source %q: %w", spec, err)
		}
		cfg.S3 = c
	}
	src, err := archive.New(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("jobs: source %q: %w", spec, err)
	}
	return src, nil
}
