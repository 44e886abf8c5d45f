package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shardflow/shardflow/internal/capacity"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

type planFlags struct {
	in          capacity.Input
	prices      string
	format      string
	fromMetrics string
	sample      time.Duration
}

// planSampler is the /metrics sampler plan uses; tests replace its clock.
var planSampler = func(interval time.Duration) capacity.Sampler {
	return capacity.Sampler{Interval: interval}
}

func newPlanCmd() *cobra.Command {
	f := planFlags{in: capacity.DefaultInput()}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Size a Kinesis stream: the shards each limit requires, and the monthly bill",
		Long: `Size a Kinesis stream from its expected writes and readers: the shard count each
limit requires (1 MB/s and 1,000 records/s in per shard; 2 MB/s out per shard
shared by polling consumers, or 2 MB/s per enhanced fan-out consumer), the one
that wins, the recommendation with headroom, and a monthly cost breakdown for it
(shard-hours, 25 KB PUT payload units, extended retention, fan-out) beside
on-demand mode. Give two of --write-mb-s, --records-s and --record-kb, or
--from-metrics to measure a running job. MB and KB are 1,024-based, as Kinesis
counts them. Prices are us-east-1 list prices of a stated date: override them
with --prices FILE (JSON, any subset of the keys --format json prints).

  shardflow plan --write-mb-s 4 --records-s 512 --consumers 2
  shardflow plan --records-s 4500 --record-kb 0.5 --efo --consumers 3 --format json
  shardflow plan --from-metrics http://127.0.0.1:9464/metrics --sample 30s --format tfvars`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPlan(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.Float64Var(&f.in.WriteMiBs, "write-mb-s", 0, "MB/s written to the stream, all shards together")
	fl.Float64Var(&f.in.RecordsS, "records-s", 0, "records/s written")
	fl.Float64Var(&f.in.RecordKiB, "record-kb", 0, "average record size, KB")
	fl.IntVar(&f.in.Consumers, "consumers", f.in.Consumers, "applications that read every record")
	fl.BoolVar(&f.in.EFO, "efo", false, "the consumers use enhanced fan-out (2 MB/s per shard each)")
	fl.Float64Var(&f.in.RetentionHours, "retention-hours", f.in.RetentionHours, "retention, 24 to 8760 hours")
	fl.Float64Var(&f.in.Headroom, "headroom", f.in.Headroom, "share of capacity the recommendation keeps spare, 0 <= h < 1")
	fl.Float64Var(&f.in.HoursPerMonth, "hours-per-month", f.in.HoursPerMonth, "hours in the month the bill covers (720: 24 x 30)")
	fl.Float64Var(&f.in.HotKeyShare, "hot-key-share", 0, "share of the writes that the busiest partition key carries (0: unknown)")
	fl.StringVar(&f.prices, "prices", "", "JSON price table overriding the us-east-1 defaults")
	fl.StringVar(&f.format, "format", "text", "text | json | tfvars (for deploy/terraform)")
	fl.StringVar(&f.fromMetrics, "from-metrics", "", "a running job's /metrics URL: plan from the write rates it shows")
	fl.DurationVar(&f.sample, "sample", 10*time.Second, "with --from-metrics: time between the two scrapes")
	return cmd
}

func runPlan(cmd *cobra.Command, f planFlags) error {
	switch f.format {
	case "text", "json", "tfvars":
	default:
		return fmt.Errorf("--format %q: want text, json or tfvars", f.format)
	}
	fl := cmd.Flags()
	prices := capacity.DefaultPrices()
	if f.prices != "" {
		file, err := os.Open(f.prices)
		if err != nil {
			return fmt.Errorf("--prices: %w", err)
		}
		prices, err = capacity.LoadPrices(file)
		file.Close()
		if err != nil {
			return fmt.Errorf("--prices %s: %w", f.prices, err)
		}
	}
	in := f.in
	if f.fromMetrics != "" {
		if fl.Changed("write-mb-s") || fl.Changed("records-s") || fl.Changed("record-kb") {
			return fmt.Errorf("--from-metrics measures the writes: give no --write-mb-s, --records-s or --record-kb")
		}
		if f.sample <= 0 {
			return fmt.Errorf("--sample %v: want > 0", f.sample)
		}
		r, err := planSampler(f.sample).Sample(cmd.Context(), f.fromMetrics)
		if err != nil {
			return fmt.Errorf("--from-metrics: %w", err)
		}
		in.WriteMiBs, in.RecordsS = r.WriteMiBs(), r.RecordsS
		fmt.Fprintf(cmd.ErrOrStderr(), "plan: measured %.4g MB/s and %.4g records/s over %d shards in %v\n", in.WriteMiBs, in.RecordsS, r.Shards, r.Elapsed)
	} else if given := countChanged(fl, "write-mb-s", "records-s", "record-kb"); given < 2 {
		return fmt.Errorf("give two of --write-mb-s, --records-s and --record-kb (or --from-metrics URL)")
	}
	pl, err := capacity.Compute(in, prices)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	switch f.format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(pl)
	case "tfvars":
		return writeTFVars(w, pl, planCommandLine(fl))
	}
	return writePlanText(w, pl)
}

func countChanged(fl *pflag.FlagSet, names ...string) int {
	n := 0
	for _, name := range names {
		if fl.Changed(name) {
			n++
		}
	}
	return n
}

// planCommandLine is the plan command that reproduces these figures, without --format.
func planCommandLine(fl *pflag.FlagSet) string {
	parts := []string{"shardflow plan"}
	fl.Visit(func(f *pflag.Flag) {
		switch {
		case f.Name == "format":
		case f.Value.Type() == "bool":
			parts = append(parts, "--"+f.Name)
		default:
			parts = append(parts, "--"+f.Name+" "+f.Value.String())
		}
	})
	return strings.Join(parts, " ")
}

// writeTFVars prints the variables of deploy/terraform that the plan decides.
func writeTFVars(w io.Writer, pl capacity.Plan, command string) error {
	mode := "PROVISIONED"
	_, err := fmt.Fprintf(w, `# From: %s --format tfvars
# %d shards recommended (%d needed, %.0f%% headroom); $%.2f a month provisioned, $%.2f on-demand.
stream_mode      = %q
shard_count      = %d
retention_hours  = %d
enhanced_fan_out = %t
`, command, pl.RecommendedShards, pl.MinShards, 100*pl.Input.Headroom, pl.MonthlyCost.Total, pl.OnDemand.Total,
		mode, pl.RecommendedShards, int(pl.Input.RetentionHours), pl.Input.EFO)
	return err
}

func writePlanText(w io.Writer, pl capacity.Plan) error {
	in := pl.Input
	kind := "polling"
	if in.EFO {
		kind = "enhanced fan-out"
	}
	fmt.Fprintf(w, "writes %.4g MB/s, %.4g records/s of %.4g KB; %d %s consumer(s); retention %g h\n\n",
		in.WriteMiBs, in.RecordsS, in.RecordKiB, in.Consumers, kind, in.RetentionHours)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(label, value string) { fmt.Fprintf(tw, "  %s\t%10s\n", label, value) }
	fmt.Fprintln(tw, "shards\t")
	row("write, 1 MB/s per shard", fmt.Sprint(pl.Limits.WriteMB))
	row("write, 1,000 records/s per shard", fmt.Sprint(pl.Limits.WriteRecords))
	if in.EFO {
		row("read, 2 MB/s per shard per fan-out consumer", "0")
	} else {
		row("read, 2 MB/s per shard shared by polling consumers", fmt.Sprint(pl.Limits.Read))
	}
	row("minimum", fmt.Sprint(pl.MinShards))
	row(fmt.Sprintf("recommended, %.0f%% headroom", 100*in.Headroom), fmt.Sprint(pl.RecommendedShards))
	fmt.Fprintln(tw, "\t")
	c := pl.MonthlyCost
	fmt.Fprintf(tw, "monthly cost, provisioned, %d shards x %g h\t\n", pl.RecommendedShards, in.HoursPerMonth)
	row("shard-hours", usd(c.ShardHours))
	row("PUT payload units", usd(c.PutPayloadUnits))
	if in.RetentionHours > capacity.MinRetentionHours {
		row("extended retention (to 7 days)", usd(c.ExtendedRetention))
		row("long-term retention (beyond 7 days)", usd(c.LongTermRetention))
	}
	if in.EFO {
		row("fan-out consumer-shard-hours", usd(c.EFOConsumerShardHours))
		row("fan-out data retrieved", usd(c.EFODataRetrieval))
	}
	row("total", usd(c.Total))
	fmt.Fprintln(tw, "\t")
	o := pl.OnDemand
	fmt.Fprintln(tw, "on-demand mode, for comparison\t")
	row("stream-hours", usd(o.StreamHours))
	row("data in", usd(o.DataIn))
	row("data out", usd(o.DataOut))
	if in.RetentionHours > capacity.MinRetentionHours {
		row("retention", usd(o.ExtendedRetention+o.LongTermRetention))
	}
	row("total", usd(o.Total))
	if err := tw.Flush(); err != nil {
		return err
	}
	p := pl.Prices
	fmt.Fprintf(w, "\nprices: %s list prices of %s (override with --prices FILE)\n", p.Region, p.AsOf)
	for _, warn := range pl.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	return nil
}

func usd(x float64) string { return fmt.Sprintf("$%.2f", x) }
