package main

import (
	"context"
	"encoding/json"
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
	streams.AddCommand(newStreamsDescribeCmd())
	return streams
}

func newStreamsDescribeCmd() *cobra.Command {
	opts := loadOptions{topKeys: 5}
	var format string
	cmd := &cobra.Command{
		Use:   "describe STREAM",
		Short: "Print a stream's shards (hash-key ranges, lineage, sequence ranges, open or closed) and their recent write load",
		Long: `Print a stream's shards: hash-key ranges, lineage, sequence ranges, open or closed.

Then, for each open shard, its write load over the last --window of arrival
time, read from the shard (GetShardIterator AT_TIMESTAMP, GetRecords to the tip,
at most --max-records records per shard, at up to 1 MB/s per shard, half of
its read limit): records and KiB per second, the
utilization of the 1,000 records/s and 1 MiB/s write limits, and the heaviest
partition keys with their shares. A shard at --hot or more of a limit is hot:
describe prints the split-shard command whose new starting hash key divides
the shard's measured bytes in half (the weighted median of MD5(partition key)).
--window 0 skips the measurement.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case format != "text" && format != "json":
				return fmt.Errorf("--format %q: want text or json", format)
			case opts.window < 0:
				return fmt.Errorf("--window wants >= 0")
			case opts.hot <= 0:
				return fmt.Errorf("--hot wants > 0 (a share of a write limit, e.g. 0.8)")
			case opts.maxRecords <= 0:
				return fmt.Errorf("--max-records wants > 0")
			}
			client, err := source.LoadClient(cmd.Context())
			if err != nil {
				return err
			}
			return describeStream(cmd.Context(), client, args[0], cmd.OutOrStdout(), opts, format)
		},
	}
	cmd.Flags().DurationVar(&opts.window, "window", 5*time.Minute, "measure each open shard's write load over this much arrival time before now (0: do not)")
	cmd.Flags().Float64Var(&opts.hot, "hot", 0.8, "a shard is hot from this share of a write limit")
	cmd.Flags().IntVar(&opts.maxRecords, "max-records", 20000, "read at most this many records per shard to measure it")
	cmd.Flags().StringVar(&format, "format", "text", "text | json")
	return cmd
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

// streamAPI is what describe uses of the Kinesis API; measuring the load
// also needs sampleAPI.
type streamAPI interface {
	DescribeStreamSummary(context.Context, *awskinesis.DescribeStreamSummaryInput, ...func(*awskinesis.Options)) (*awskinesis.DescribeStreamSummaryOutput, error)
	ListShards(context.Context, *awskinesis.ListShardsInput, ...func(*awskinesis.Options)) (*awskinesis.ListShardsOutput, error)
}

// streamJSON is what `streams describe --format json` prints.
type streamJSON struct {
	Stream         string      `json:"stream"`
	Status         string      `json:"status"`
	Mode           string      `json:"mode"`
	RetentionHours int32       `json:"retention_hours"`
	OpenShards     int         `json:"open_shards"`
	ClosedShards   int         `json:"closed_shards"`
	HotThreshold   float64     `json:"hot_threshold"`
	Shards         []shardJSON `json:"shards"`
}

type shardJSON struct {
	ShardID         string     `json:"shard_id"`
	State           string     `json:"state"`
	Parents         []string   `json:"parents"`
	StartingHashKey string     `json:"starting_hash_key"`
	EndingHashKey   string     `json:"ending_hash_key"`
	FirstSequence   string     `json:"first_sequence,omitempty"`
	LastSequence    string     `json:"last_sequence,omitempty"`
	Load            *shardLoad `json:"load,omitempty"`
}

func describeStream(ctx context.Context, api streamAPI, stream string, w io.Writer, opts loadOptions, format string) error {
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
	var loads map[string]*shardLoad
	if sa, ok := api.(sampleAPI); ok && opts.window > 0 {
		if loads, err = measureLoads(ctx, sa, stream, shards, aws.ToTime(d.StreamCreationTimestamp), time.Now(), opts); err != nil {
			return fmt.Errorf("measure the write load of %s: %w", stream, err)
		}
	}
	desc := streamJSON{Stream: aws.ToString(d.StreamName), Status: string(d.StreamStatus), Mode: mode,
		RetentionHours: aws.ToInt32(d.RetentionPeriodHours), HotThreshold: opts.hot, Shards: []shardJSON{}}
	for _, s := range shards {
		sj := shardJSON{ShardID: aws.ToString(s.ShardId), State: "open", Parents: []string{}, Load: loads[aws.ToString(s.ShardId)]}
		if r := s.SequenceNumberRange; r != nil {
			sj.FirstSequence, sj.LastSequence = aws.ToString(r.StartingSequenceNumber), aws.ToString(r.EndingSequenceNumber)
			if r.EndingSequenceNumber != nil {
				sj.State = "closed"
			}
		}
		if r := s.HashKeyRange; r != nil {
			sj.StartingHashKey, sj.EndingHashKey = aws.ToString(r.StartingHashKey), aws.ToString(r.EndingHashKey)
		}
		for _, p := range []*string{s.ParentShardId, s.AdjacentParentShardId} {
			if p != nil {
				sj.Parents = append(sj.Parents, *p)
			}
		}
		if sj.State == "open" {
			desc.OpenShards++
		} else {
			desc.ClosedShards++
		}
		desc.Shards = append(desc.Shards, sj)
	}
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(desc)
	}

	fmt.Fprintf(w, "%s  %s  %s  retention %dh  %d open shards, %d closed\n",
		desc.Stream, desc.Status, desc.Mode, desc.RetentionHours, desc.OpenShards, desc.ClosedShards)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tSTATE\tPARENTS\tHASH KEYS\tFIRST SEQUENCE\tLAST SEQUENCE")
	for i, s := range shards {
		sj := desc.Shards[i]
		parents, first, last := strings.Join(sj.Parents, ","), sj.FirstSequence, sj.LastSequence
		for _, v := range []*string{&parents, &first, &last} {
			if *v == "" {
				*v = "-"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", sj.ShardID, sj.State, parents, hashRange(s.HashKeyRange), first, last)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return writeLoads(w, shards, loads, opts)
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
