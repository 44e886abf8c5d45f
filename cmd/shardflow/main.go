// Command shardflow runs shardflow's ready-made jobs.
//
//	shardflow run clickstream                 # generator source, local Parquet and checkpoints
//	shardflow run clickstream --source 'file://events/*.jsonl'
//	shardflow jobs
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line args and returns the process's exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "shardflow: %v\n", err)
		return 1
	}
	return 0
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "shardflow",
		Short:         "Stream processing for Kinesis shards: event-time windows over Arrow, exactly-once Parquet",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(debug.ReadBuildInfo()),
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newRunCmd(), newReplayCmd(), newProduceCmd(), newStreamsCmd(), newJobsCmd(), newFeaturesCmd())
	root.AddCommand(newPlanCmd(), newWorkersCmd())
	return root
}
