package main

import (
	"context"
	"fmt"
	"io"
	"math/big"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	source "github.com/shardflow/shardflow/sources/kinesis"
	"github.com/spf13/cobra"
)

func newStreamsCmd() *cobra.Command {
	streams := &cobra.Command{Use: "streams", Short: "Inspect Kinesis streams"}
	streams.AddCommand(&cobra.Command{
		Use:   "describe STREAM",
		Short: "Print a stream's shards: hash-key ranges, lineage, sequence ranges, open or closed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			client, err := source.LoadClient(cmd.Context())
			if err != nil {
				return err
			}
			return describeStream(cmd.Context(), client, args[0], cmd.OutOrStdout())
		},
	})
	return streams
}

// streamAPI is what describe uses of the Kinesis API.
type streamAPI interface {
	DescribeStreamSummary(context.Context, *awskinesis.DescribeStreamSummaryInput, ...func(*awskinesis.Options)) (*awskinesis.DescribeStreamSummaryOutput, error)
	ListShards(context.Context, *awskinesis.ListShardsInput, ...func(*awskinesis.Options)) (*awskinesis.ListShardsOutput, error)
}

func describeStream(ctx context.Context, api streamAPI, stream string, w io.Writer) error {
	name, arn := &stream, (*string)(nil)
	if strings.HasPrefix(stream, "arn:") {
		name, arn = nil, &stream
	}
	sum, err := api.DescribeStreamSummary(ctx, &awskinesis.DescribeStreamSummaryInput{StreamName: name, StreamARN: arn})
	if err != nil {
		return fmt.Errorf("describe %s: %w", stream, err)
	}
	d := sum.StreamDescriptionSummary
	mode := "PROVISIONED"
	if d.StreamModeDetails != nil && d.StreamModeDetails.StreamMode != "" {
		mode = string(d.StreamModeDetails.StreamMode)
	}
	var shards []types.Shard
	in := &awskinesis.ListShardsInput{StreamName: name, StreamARN: arn}
	for {
		out, err := api.ListShards(ctx, in)
		if err != nil {
			return fmt.Errorf("list shards of %s: %w", stream, err)
		}
		shards = append(shards, out.Shards...)
		if out.NextToken == nil {
			break
		}
		in = &awskinesis.ListShardsInput{NextToken: out.NextToken}
	}
	open := 0
	for _, s := range shards {
		if s.SequenceNumberRange == nil || s.SequenceNumberRange.EndingSequenceNumber == nil {
			open++
		}
	}
	fmt.Fprintf(w, "%s  %s  %s  retention %dh  %d open shards, %d closed\n",
		aws.ToString(d.StreamName), d.StreamStatus, mode, aws.ToInt32(d.RetentionPeriodHours), open, len(shards)-open)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tSTATE\tPARENTS\tHASH KEYS\tFIRST SEQUENCE\tLAST SEQUENCE")
	for _, s := range shards {
		state, last := "open", "-"
		if r := s.SequenceNumberRange; r != nil && r.EndingSequenceNumber != nil {
			state, last = "closed", aws.ToString(r.EndingSequenceNumber)
		}
		var parents []string
		for _, p := range []*string{s.ParentShardId, s.AdjacentParentShardId} {
			if p != nil {
				parents = append(parents, *p)
			}
		}
		if len(parents) == 0 {
			parents = []string{"-"}
		}
		first := "-"
		if s.SequenceNumberRange != nil {
			first = aws.ToString(s.SequenceNumberRange.StartingSequenceNumber)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", aws.ToString(s.ShardId), state, strings.Join(parents, ","), hashRange(s.HashKeyRange), first, last)
	}
	return tw.Flush()
}

// hashRange renders a shard's hash-key range as the share of the 128-bit key
// space it covers, e.g. "0.0%-25.0%".
func hashRange(r *types.HashKeyRange) string {
	if r == nil {
		return "-"
	}
	space := new(big.Float).SetInt(new(big.Int).Lsh(big.NewInt(1), 128))
	pct := func(s *string, plusOne bool) string {
		n, ok := new(big.Int).SetString(aws.ToString(s), 10)
		if !ok {
			return "?"
		}
		if plusOne {
			n.Add(n, big.NewInt(1))
		}
		f, _ := new(big.Float).Quo(new(big.Float).SetInt(n), space).Float64()
		return fmt.Sprintf("%.1f%%", f*100)
	}
	return pct(r.StartingHashKey, false) + "-" + pct(r.EndingHashKey, true)
}
