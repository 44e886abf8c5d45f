package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/spf13/cobra"

	"github.com/shardflow/shardflow/sources/kinesis/leases"
)

func newWorkersCmd() *cobra.Command {
	var table string
	cmd := &cobra.Command{
		Use:   "workers --checkpoints dynamodb://TABLE",
		Short: "List the workers of a lease table, their leases, checkpoints and throughput",
		Long: `Workers reads a lease table (shardflow's, or a Kinesis Client Library application's:
the layout is KCL's) with one consistent scan and prints each worker with its leases and the
records per second its owners measured, then every lease: owner, lease counter, checkpoint,
the state kept with it, parents, and a hand-off in progress. Lag is not in the table; each
worker's metrics have it (shardflow_kinesis_millis_behind_latest).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			name, ok := strings.CutPrefix(table, "dynamodb://")
			if !ok || name == "" || strings.ContainsAny(name, "/?") {
				return fmt.Errorf("--checkpoints %q: want dynamodb://TABLE, the lease table", table)
			}
			cfg, err := config.LoadDefaultConfig(cmd.Context())
			if err != nil {
				return fmt.Errorf("AWS config: %w", err)
			}
			t, err := leases.NewTable(dynamodb.NewFromConfig(cfg), name)
			if err != nil {
				return err
			}
			ls, err := t.List(cmd.Context())
			if _, missing := errors.AsType[*types.ResourceNotFoundException](err); missing {
				return fmt.Errorf("no lease table %q (in region %s): check --checkpoints and AWS_REGION", name, cfg.Region)
			}
			if err != nil {
				return err
			}
			printWorkers(cmd.OutOrStdout(), name, ls)
			return nil
		},
	}
	cmd.Flags().StringVar(&table, "checkpoints", "", "the lease table: dynamodb://TABLE (required)")
	_ = cmd.MarkFlagRequired("checkpoints")
	return cmd
}

// workerRow is one worker's share of a lease table.
type workerRow struct {
	owner      string
	shards     []string
	throughput float64
}

// printWorkers prints the workers of the leases ls of table name, then the
// leases in key order.
func printWorkers(w io.Writer, name string, ls []leases.Lease) {
	slices.SortFunc(ls, func(a, b leases.Lease) int { return cmp.Compare(a.Key, b.Key) })
	byOwner := map[string]*workerRow{}
	finished := 0
	for _, l := range ls {
		if l.Finished() {
			finished++
			continue
		}
		r := byOwner[l.Owner]
		if r == nil {
			r = &workerRow{owner: l.Owner}
			byOwner[l.Owner] = r
		}
		r.shards = append(r.shards, l.Key)
		r.throughput += l.Throughput
	}
	workers := len(byOwner)
	if byOwner[""] != nil {
		workers--
	}
	fmt.Fprintf(w, "lease table %s: %d leases (%d finished), %d workers\n\n", name, len(ls), finished, workers)

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKER\tLEASES\tRECORDS/S\tSHARDS")
	for _, owner := range slices.Sorted(maps.Keys(byOwner)) {
		r := byOwner[owner]
		if owner == "" {
			owner = "(unowned)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", owner, len(r.shards), count(int64(r.throughput)), strings.Join(r.shards, " "))
	}
	tw.Flush()
	fmt.Fprintln(w)

	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LEASE\tOWNER\tCOUNTER\tCHECKPOINT\tSTATE\tRECORDS/S\tNOTES")
	for _, l := range ls {
		owner := cmp.Or(l.Owner, "-")
		ckpt := cmp.Or(l.Checkpoint, "-")
		if l.SubSequence > 0 {
			ckpt += fmt.Sprintf(" (sub %d)", l.SubSequence)
		}
		state := "-"
		if len(l.State) > 0 {
			state = byteSize(len(l.State))
		}
		var notes []string
		if l.HandingOff() {
			notes = append(notes, "handing off from "+l.CheckpointOwner)
		}
		if len(l.Parents) > 0 {
			notes = append(notes, "parents "+strings.Join(l.Parents, " "))
		}
		if len(l.Children) > 0 {
			notes = append(notes, "children "+strings.Join(l.Children, " "))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", l.Key, owner, l.Counter, ckpt, state, count(int64(l.Throughput)), strings.Join(notes, "; "))
	}
	tw.Flush()
}

// byteSize formats n bytes as B, KiB or MiB.
func byteSize(n int) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
