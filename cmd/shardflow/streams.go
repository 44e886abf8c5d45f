package main

import (
	"context"
	"fmt"
	"io"
	"math/big"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	source "github.com/shardflow/shardflow/sources/kinesis"
	"github.com/spf13/cobra"
)

func newStreamsCmd() *cobra.Command {
	streams := &cobra.Command{Use: "streams", Short: "Create, describe and delete Kinesis streams"}
	streams.AddCommand(newStreamsCreateCmd(), newStreamsDeleteCmd())
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

func newStreamsCreateCmd() *cobra.Command {
	var shards int32
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "create STREAM --shards N",
		Short: "Create a provisioned stream of N shards and wait until it is ACTIVE",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if shards <= 0 || timeout <= 0 {
				return fmt.Errorf("--shards wants > 0, --timeout > 0")
			}
			if strings.HasPrefix(args[0], "arn:") {
				return fmt.Errorf("create %s: want a stream name, not an ARN", args[0])
			}
			client, err := source.LoadClient(cmd.Context())
			if err != nil {
				return err
			}
			return createStream(cmd.Context(), client, args[0], shards, timeout, cmd.OutOrStdout())
		},
	}
	cmd.Flags().Int32Var(&shards, "shards", 0, "shards (required)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait for the stream to become ACTIVE")
	return cmd
}

func newStreamsDeleteCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "delete STREAM",
		Short: "Delete a stream (name or ARN) and wait until it is gone",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout <= 0 {
				return fmt.Errorf("--timeout wants > 0")
			}
			client, err := source.LoadClient(cmd.Context())
			if err != nil {
				return err
			}
			return deleteStream(cmd.Context(), client, args[0], timeout, cmd.OutOrStdout())
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait for the stream to be gone")
	return cmd
}

// streamAdminAPI is what create and delete use of the Kinesis API.
type streamAdminAPI interface {
	CreateStream(context.Context, *awskinesis.CreateStreamInput, ...func(*awskinesis.Options)) (*awskinesis.CreateStreamOutput, error)
	DeleteStream(context.Context, *awskinesis.DeleteStreamInput, ...func(*awskinesis.Options)) (*awskinesis.DeleteStreamOutput, error)
	awskinesis.DescribeStreamAPIClient
}

// The pause between two DescribeStream calls of a waiter: the SDK's defaults
// (10s to 2 min) suit a region, not a local server; DescribeStream allows 10
// calls per second per account.
const waitMinDelay, waitMaxDelay = 200 * time.Millisecond, 5 * time.Second

func createStream(ctx context.Context, api streamAdminAPI, stream string, shards int32, timeout time.Duration, w io.Writer) error {
	if _, err := api.CreateStream(ctx, &awskinesis.CreateStreamInput{StreamName: &stream, ShardCount: &shards}); err != nil {
		return fmt.Errorf("create %s: %w", stream, err)
	}
	waiter := awskinesis.NewStreamExistsWaiter(api, func(o *awskinesis.StreamExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = waitMinDelay, waitMaxDelay
	})
	if err := waiter.Wait(ctx, &awskinesis.DescribeStreamInput{StreamName: &stream}, timeout); err != nil {
		return fmt.Errorf("create %s: waiting until ACTIVE: %w", stream, err)
	}
	fmt.Fprintf(w, "created %s: %d shards, ACTIVE\n", stream, shards)
	return nil
}

func deleteStream(ctx context.Context, api streamAdminAPI, stream string, timeout time.Duration, w io.Writer) error {
	name, arn := &stream, (*string)(nil)
	if strings.HasPrefix(stream, "arn:") {
		name, arn = nil, &stream
	}
	if _, err := api.DeleteStream(ctx, &awskinesis.DeleteStreamInput{StreamName: name, StreamARN: arn}); err != nil {
		return fmt.Errorf("delete %s: %w", stream, err)
	}
	waiter := awskinesis.NewStreamNotExistsWaiter(api, func(o *awskinesis.StreamNotExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = waitMinDelay, waitMaxDelay
	})
	if err := waiter.Wait(ctx, &awskinesis.DescribeStreamInput{StreamName: name, StreamARN: arn}, timeout); err != nil {
		return fmt.Errorf("delete %s: waiting until gone: %w", stream, err)
	}
	fmt.Fprintf(w, "deleted %s\n", stream)
	return nil
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
