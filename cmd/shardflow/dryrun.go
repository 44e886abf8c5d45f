package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardflow/shardflow/internal/capacity"
	"github.com/shardflow/shardflow/sources/kinesis"
	"github.com/spf13/cobra"
)

// The GetRecords limits per call (../../../shared/KINESIS.md).
const (
	getRecordsMaxRecords = 10_000
	getRecordsMaxBytes   = 10 << 20
	mib                  = 1 << 20
)

// dryRunAPI is what --dry-run calls of Kinesis.
type dryRunAPI interface {
	ListShards(context.Context, *awskinesis.ListShardsInput, ...func(*awskinesis.Options)) (*awskinesis.ListShardsOutput, error)
	GetShardIterator(context.Context, *awskinesis.GetShardIteratorInput, ...func(*awskinesis.Options)) (*awskinesis.GetShardIteratorOutput, error)
	GetRecords(context.Context, *awskinesis.GetRecordsInput, ...func(*awskinesis.Options)) (*awskinesis.GetRecordsOutput, error)
}

// shardEstimate is what a replay would read of one shard.
type shardEstimate struct {
	ID      string
	Parents []string
	Closed  bool
	Records float64
	Bytes   float64
	Exact   bool      // the sample held every record of the shard in the range
	First   time.Time // arrival of the first record in the range; zero when none
	span    float64   // seconds of arrival time the sample covered
}

// calls is the GetRecords calls the shard's records take (at least one, to
// learn the shard is empty or at its end).
func (e shardEstimate) calls() int {
	return max(int(math.Ceil(e.Records/getRecordsMaxRecords)), int(math.Ceil(e.Bytes/getRecordsMaxBytes)), 1)
}

// seconds is how long one consumer reads the shard: polling, at 2 MiB/s and
// 5 calls/s per shard; with fan-out, at 2 MiB/s pushed.
func (e shardEstimate) seconds(fanout bool) float64 {
	t := e.Bytes / (capacity.ShardReadMiBs * mib)
	if !fanout {
		t = max(t, float64(e.calls())/capacity.ShardGetRecordsRate)
	}
	return t
}

// replayDryRun prints what `replay` would read of source from..to and reads
// no more than one GetRecords call (up to 10,000 records) per shard at the
// start of the range, to estimate. It writes nothing.
func replayDryRun(ctx context.Context, w io.Writer, api dryRunAPI, stream, from, to string, now time.Time) error {
	var fromT, toT time.Time
	if from != kinesis.StartTrimHorizon {
		fromT, _ = time.Parse(time.RFC3339, from) // replayRange checked it
	}
	end := now
	if to != "now" {
		end, _ = time.Parse(time.RFC3339, to)
		toT = end
	}
	shards, err := listForDryRun(ctx, api, stream)
	if err != nil {
		return err
	}
	for i := range shards {
		if err := sampleShard(ctx, api, stream, &shards[i], fromT, toT); err != nil {
			return err
		}
	}
	// A shard's records stop where it was closed: when its children's first
	// records arrived; an open shard's at the end of the range.
	closedAt := map[string]time.Time{}
	for _, s := range shards {
		for _, p := range s.Parents {
			if !s.First.IsZero() && (closedAt[p].IsZero() || s.First.Before(closedAt[p])) {
				closedAt[p] = s.First
			}
		}
	}
	for i := range shards {
		s := &shards[i]
		if s.Exact || s.Records == 0 {
			continue
		}
		stop := end
		if c, ok := closedAt[s.ID]; ok && c.Before(stop) {
			stop = c
		}
		// The sample covered sampleSpan of arrival time; scale to the shard's.
		if span := stop.Sub(s.First).Seconds(); span > s.sampleSpan() {
			f := span / s.sampleSpan()
			s.Records, s.Bytes = s.Records*f, s.Bytes*f
		}
	}
	printDryRun(w, stream, from, to, end, shards)
	return nil
}

// sampleSpan is the seconds of arrival time the sample covered, at least
// one: a burst of records may share a few milliseconds.
func (e shardEstimate) sampleSpan() float64 { return max(e.span, 1) }

func listForDryRun(ctx context.Context, api dryRunAPI, stream string) ([]shardEstimate, error) {
	var out []shardEstimate
	in := &awskinesis.ListShardsInput{StreamName: aws.String(stream)}
	for {
		res, err := api.ListShards(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("dry run: list shards of %q: %w", stream, err)
		}
		for _, sh := range res.Shards {
			e := shardEstimate{ID: aws.ToString(sh.ShardId)}
			for _, p := range []*string{sh.ParentShardId, sh.AdjacentParentShardId} {
				if aws.ToString(p) != "" {
					e.Parents = append(e.Parents, *p)
				}
			}
			e.Closed = sh.SequenceNumberRange != nil && sh.SequenceNumberRange.EndingSequenceNumber != nil
			out = append(out, e)
		}
		if aws.ToString(res.NextToken) == "" {
			break
		}
		in = &awskinesis.ListShardsInput{NextToken: res.NextToken}
	}
	return lineageOrder(out), nil
}

// lineageOrder puts every parent before its children, by shard ID otherwise.
func lineageOrder(shards []shardEstimate) []shardEstimate {
	slices.SortFunc(shards, func(a, b shardEstimate) int { return strings.Compare(a.ID, b.ID) })
	listed := map[string]bool{}
	for _, s := range shards {
		listed[s.ID] = true
	}
	placed := map[string]bool{}
	var out []shardEstimate
	for len(out) < len(shards) {
		for _, s := range shards {
			if placed[s.ID] {
				continue
			}
			ready := true
			for _, p := range s.Parents {
				ready = ready && (placed[p] || !listed[p])
			}
			if ready {
				placed[s.ID] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// sampleShard reads one GetRecords call of up to 10,000 records at the start
// of the range; when the call reaches the end of the range or of the shard,
// the count is exact.
func sampleShard(ctx context.Context, api dryRunAPI, stream string, s *shardEstimate, from, to time.Time) error {
	in := &awskinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: aws.String(s.ID), ShardIteratorType: types.ShardIteratorTypeTrimHorizon}
	if !from.IsZero() {
		in.ShardIteratorType, in.Timestamp = types.ShardIteratorTypeAtTimestamp, aws.Time(from)
	}
	it, err := api.GetShardIterator(ctx, in)
	if err != nil {
		return fmt.Errorf("dry run: shard %s: get shard iterator: %w", s.ID, err)
	}
	res, err := api.GetRecords(ctx, &awskinesis.GetRecordsInput{ShardIterator: it.ShardIterator, Limit: aws.Int32(getRecordsMaxRecords)})
	if err != nil {
		return fmt.Errorf("dry run: shard %s: get records: %w", s.ID, err)
	}
	var last time.Time
	for _, r := range res.Records {
		at := aws.ToTime(r.ApproximateArrivalTimestamp)
		if !to.IsZero() && at.After(to) {
			s.Exact = true
			break
		}
		if s.First.IsZero() {
			s.First = at
		}
		last = at
		s.Records++
		s.Bytes += float64(len(r.Data) + len(aws.ToString(r.PartitionKey)))
	}
	if !s.First.IsZero() {
		s.span = last.Sub(s.First).Seconds()
	}
	if len(res.Records) < getRecordsMaxRecords && (res.NextShardIterator == nil || aws.ToInt64(res.MillisBehindLatest) == 0) {
		s.Exact = true
	}
	return nil
}

func printDryRun(w io.Writer, stream, from, to string, end time.Time, shards []shardEstimate) {
	toText := to
	if to == "now" {
		toText = "now (each open shard's tip when the replay starts; " + end.UTC().Format(time.RFC3339) + " here)"
	}
	fmt.Fprintf(w, "replay of %s, dry run: nothing read but one GetRecords per shard, nothing written\n", stream)
	fmt.Fprintf(w, "  range    %s .. %s\n", from, toText)
	fmt.Fprintf(w, "  shards   %d, in lineage order (parents first):\n", len(shards))
	var recs, bytes float64
	var calls int
	exact := true
	finish := map[string][2]float64{} // polling, fan-out: when the shard is done, after its parents
	var poll, fan float64
	for _, s := range shards {
		state := "open"
		if s.Closed {
			state = "closed"
		}
		parents := ""
		if len(s.Parents) > 0 {
			parents = " child of " + strings.Join(s.Parents, ", ")
		}
		how := "estimated"
		if s.Exact {
			how = "exact"
		}
		fmt.Fprintf(w, "    %-24s %-6s %10s records %9.1f MiB %6d calls (%s)%s\n", s.ID, state, count(int64(math.Round(s.Records))), s.Bytes/mib, s.calls(), how, parents)
		recs, bytes, calls, exact = recs+s.Records, bytes+s.Bytes, calls+s.calls(), exact && s.Exact
		var after [2]float64
		for _, p := range s.Parents {
			after[0], after[1] = max(after[0], finish[p][0]), max(after[1], finish[p][1])
		}
		f := [2]float64{after[0] + s.seconds(false), after[1] + s.seconds(true)}
		finish[s.ID] = f
		poll, fan = max(poll, f[0]), max(fan, f[1])
	}
	how := "exact: one GetRecords call per shard held its whole range"
	if !exact {
		how = "estimated from one GetRecords call (up to 10,000 records) at the start of each shard's range, scaled by arrival time to the shard's close (its children's first record) or the range's end; exact where marked"
	}
	fmt.Fprintf(w, "  records  %s, %.1f MiB (%s)\n", count(int64(math.Round(recs))), bytes/mib, how)
	fmt.Fprintf(w, "  calls    %d GetRecords (10,000 records or 10 MiB a call)\n", calls)
	fmt.Fprintf(w, "  time     %s polling (2 MiB/s and 5 calls/s a shard, shared by every polling consumer), %s with enhanced fan-out (2 MiB/s a shard for this consumer); parents before children\n",
		secs(poll), secs(fan))
}

func secs(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Millisecond).String()
}

// dryRunReplay is `replay --dry-run` on the stream of source (replayRange
// checked it is kinesis://STREAM).
func dryRunReplay(cmd *cobra.Command, source, from, to string) error {
	stream, _, _ := strings.Cut(strings.TrimPrefix(source, "kinesis://"), "?")
	client, err := kinesis.LoadClient(cmd.Context())
	if err != nil {
		return err
	}
	return replayDryRun(cmd.Context(), cmd.OutOrStdout(), client, stream, from, to, time.Now())
}
