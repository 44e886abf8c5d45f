package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/shardflow/shardflow/jobs"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/kinesis"
	"github.com/spf13/cobra"
)

func newReplayCmd() *cobra.Command {
	f := runFlags{}
	var from, to string
	var dryRun, thenRun bool
	cmd := &cobra.Command{
		Use:   "replay JOB --source kinesis://STREAM --from trim_horizon|TIME --to now|TIME",
		Short: "Run a job over a bounded range of a stream's retention, drain every window, commit and exit",
		Long: `Replay reads every shard of a Kinesis stream from --from (trim_horizon, or an
RFC 3339 time within the stream's retention) up to --to (now: each shard's last record
when the replay first read it, its tip, whatever this machine's clock says; or an
RFC 3339 time, by the records' arrival times), drains every window at the end,
commits and exits 0.

A replay's checkpoints are cut by the data, not the clock: one at every multiple of
--checkpoint-step (15m) since the epoch that the records' arrival times cross, so the
same replay puts the same rows in the same checkpoints, and names its files alike,
however fast it runs or whatever --checkpoint-interval says. The checkpoints keep the
tips: killed (or stopped), the same command continues it from its last cut and ends at
the same records, with the same files. Give another range its own --checkpoints (and --out,
unless the tables may hold both).

A replay's run id comes from the job, the stream and the resolved range (the tips), so its
files are named part-replay-<run>-...; run again with a fresh --checkpoints into the same
--out, it replaces its own earlier files and leaves one copy.

--then-run backfills from --from up to each shard's tip at the start and then goes on as
the live job, as run does: the windows stay open, nothing is read twice or skipped at the
handover, and the command runs until it is stopped (SIGINT or SIGTERM).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if isArchive(f.source) {
				if thenRun {
					return fmt.Errorf("--then-run goes on live from a stream's tips; an archive has none: replay it, then run the job on the stream")
				}
				if cmd.Flags().Changed("checkpoint-step") {
					return fmt.Errorf("--checkpoint-step cuts checkpoints by the records' arrival times, which an archive does not keep: drop it (an archive replay checkpoints every --checkpoint-interval)")
				}
				f.replayStep = 0
				return replayArchive(cmd, args[0], f, from, to) // replay_archive.go
			}
			kcfg, err := replayRange(f.source, from, to, time.Now())
			if err != nil {
				return err
			}
			if f.replayStep <= 0 {
				return fmt.Errorf("--checkpoint-step %v: want > 0", f.replayStep)
			}
			if thenRun && to != "now" {
				return fmt.Errorf("--then-run follows the stream live once the backfill reaches the tips; it ends at no --to: drop --to %s", to)
			}
			switch {
			case thenRun && cmd.Flags().Changed("checkpoint-step"):
				return fmt.Errorf("--checkpoint-step cuts a bounded replay's checkpoints; --then-run goes on live and checkpoints every --checkpoint-interval: drop --checkpoint-step")
			case !thenRun && cmd.Flags().Changed("checkpoint-interval"):
				return fmt.Errorf("--checkpoint-interval: a replay of a stream cuts its checkpoints by the records' arrival times, not the clock: use --checkpoint-step (default %v)", pipeline.DefaultReplayStep)
			}
			if dryRun {
				return dryRunReplay(cmd, f.source, from, to)
			}
			if err := f.validate(cmd); err != nil {
				return err
			}
			f.featuresSet = cmd.Flags().Changed("features")
			f.replay = true
			f.progress = replayProgress(f.status, from, to, time.Now())
			if thenRun {
				// A backfill, then the live job: one read, from --from on, with
				// the tips captured at the start marking the handover.
				kcfg.StopAt, kcfg.Backfill, f.replay = nil, true, false
				f.progress = thenRunProgress(f.progress, f.status)
			}
			return runJob(cmd.Context(), args[0], f, jobs.SourceOptions{Kinesis: kcfg}, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	addJobFlags(cmd, &f, filepath.Join("shardflow-data", "replay"), "", "the stream to read: kinesis://STREAM[?consumer=NAME], or an archive: file://GLOB | s3://BUCKET/PREFIX (required)")
	cmd.Flags().StringVar(&from, "from", kinesis.StartTrimHorizon, "where each shard starts: trim_horizon | RFC 3339 time")
	cmd.Flags().StringVar(&to, "to", "now", "where each shard ends: now (its last record when the replay starts) | RFC 3339 time (by arrival)")
	cmd.Flags().DurationVar(&f.replayStep, "checkpoint-step", pipeline.DefaultReplayStep,
		"stream time between checkpoints: a checkpoint at every multiple of it since the epoch that the records' arrival times cross, whatever the clock (--checkpoint-interval is not used)")
	cmd.Flags().BoolVar(&thenRun, "then-run", false, "backfill from --from up to each shard's tip at the start, then go on as the live job (run) from there: windows kept open, nothing read twice or skipped")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the shards, the range, an estimate of the records, the calls and the time the replay takes, and exit without reading or writing")
	return cmd
}

// replayRange turns --from and --to into the Kinesis source's start and
// bound; now is when the replay started, which only checks that --from is
// in the past. --to now ends each shard at its tip, the last record it held
// when the replay first read, kept in the checkpoints (kinesis.StopAt.Tips):
// no clock decides which records a replay reads, and a resumed replay ends
// at the same records. --to TIME compares with the records' arrival times,
// which the server sets.
func replayRange(source, from, to string, now time.Time) (kinesis.Config, error) {
	var cfg kinesis.Config
	if !strings.HasPrefix(source, "kinesis://") {
		return cfg, fmt.Errorf("replay reads a stream's retention: want --source kinesis://STREAM, got %q", source)
	}
	end, stop := now, &kinesis.StopAt{Tips: true}
	if to != "now" {
		t, err := time.Parse(time.RFC3339, to)
		if err != nil {
			return cfg, fmt.Errorf("--to %q: want now or an RFC 3339 time", to)
		}
		end, stop = t, &kinesis.StopAt{Time: t}
	}
	cfg.Start = kinesis.StartTrimHorizon
	if from != kinesis.StartTrimHorizon {
		start, err := time.Parse(time.RFC3339, from)
		if err != nil {
			return cfg, fmt.Errorf("--from %q: want trim_horizon or an RFC 3339 time", from)
		}
		if !start.Before(end) {
			return cfg, fmt.Errorf("--from %s is not before --to %s", from, end.Format(time.RFC3339))
		}
		cfg.Start = "at_timestamp:" + start.Format(time.RFC3339Nano)
	}
	cfg.StopAt = stop
	return cfg, nil
}
