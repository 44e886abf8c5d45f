package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/shardflow/shardflow/jobs"
	"github.com/spf13/cobra"
)

func newJobsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "jobs",
		Short: "List the ready-made jobs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			for _, d := range jobs.All() {
				fmt.Fprintf(w, "%s\t%s\n", d.Name, d.Summary)
			}
			return w.Flush()
		},
	}
}
