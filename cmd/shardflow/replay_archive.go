package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/shardflow/shardflow/jobs"
	"github.com/shardflow/shardflow/sources/archive"
	"github.com/shardflow/shardflow/sources/kinesis"
	"github.com/spf13/cobra"
)

// isArchive reports whether a replay's --source names an archive rather
// than a stream: file://GLOB, s3://BUCKET/PREFIX, or a bare path glob.
func isArchive(source string) bool {
	return strings.HasPrefix(source, "file://") || strings.HasPrefix(source, "s3://") ||
		(source != "" && source != jobs.SourceGenerator && !strings.Contains(source, "://"))
}

// archiveSpec turns a replay's archive --source into the archive:// spec
// jobs.OpenSource opens (a bare glob is a file:// one).
func archiveSpec(source string) string {
	if !strings.Contains(source, "://") {
		source = "file://" + source
	}
	return jobs.SourceArchive + "://" + source
}

// archiveRange turns --from and --to into the hours of the archive's keys
// to read: trim_horizon and now read every object; an RFC 3339 time keeps
// the objects whose Firehose key path (YYYY/MM/DD/HH) is in the hours from
// --from's to before --to's. Records are not filtered by their own times.
func archiveRange(from, to string) (archive.Config, error) {
	var cfg archive.Config
	if from != kinesis.StartTrimHorizon {
		t, err := time.Parse(time.RFC3339, from)
		if err != nil {
			return cfg, fmt.Errorf("--from %q: want trim_horizon or an RFC 3339 time", from)
		}
		cfg.From = t
	}
	if to != "now" {
		t, err := time.Parse(time.RFC3339, to)
		if err != nil {
			return cfg, fmt.Errorf("--to %q: want now or an RFC 3339 time", to)
		}
		cfg.To = t
	}
	if !cfg.From.IsZero() && !cfg.To.IsZero() && !cfg.From.Before(cfg.To) {
		return cfg, fmt.Errorf("--from %s is not before --to %s", from, to)
	}
	return cfg, nil
}

// replayArchive runs a replay over an archive (see isArchive).
func replayArchive(cmd *cobra.Command, job string, f runFlags, from, to string) error {
	acfg, err := archiveRange(from, to)
	if err != nil {
		return err
	}
	f.source = archiveSpec(f.source)
	f.progress = archiveProgress(f.status) // progress.go: bars by each object's bytes
	if err := f.validate(cmd); err != nil {
		return err
	}
	f.featuresSet = cmd.Flags().Changed("features")
	f.replay = true
	return runJob(cmd.Context(), job, f, jobs.SourceOptions{Archive: acfg}, cmd.OutOrStdout(), cmd.ErrOrStderr())
}
