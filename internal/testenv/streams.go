package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// CreateStream creates a stream of shards shards and waits until it is active.
func CreateStream(t testing.TB, c *kinesis.Client, name string, shards int32) {
	t.Helper()
	if _, err := c.CreateStream(t.Context(), &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(shards)}); err != nil {
		t.Fatalf("testenv: create stream %s: %v", name, err)
	}
	WaitActive(t, c, name)
}

// WaitActive polls until the stream is ACTIVE (servers finish CreateStream,
// SplitShard and MergeShards asynchronously); it fails t after 30 seconds.
func WaitActive(t testing.TB, c *kinesis.Client, name string) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for {
		out, err := c.DescribeStreamSummary(t.Context(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("testenv: stream %s not active after 30s (last error %v)", name, err)
		}
	}
}

// OpenShards lists the ids of the stream's open shards, in order.
func OpenShards(t testing.TB, c *kinesis.Client, name string) []types.Shard {
	t.Helper()
	out, err := c.ListShards(t.Context(), &kinesis.ListShardsInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatalf("testenv: list shards of %s: %v", name, err)
	}
	var open []types.Shard
	for _, s := range out.Shards {
		if s.SequenceNumberRange.EndingSequenceNumber == nil {
			open = append(open, s)
		}
	}
	return open
}

// ReadStream reads every shard of the stream with the SDK, from TRIM_HORIZON
// until an empty answer or the end of a closed shard, and returns the records
// by shard id, in order; the shard ids come in ListShards' order.
func ReadStream(t testing.TB, c *kinesis.Client, name string) (ids []string, records map[string][]types.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	shards, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatalf("testenv: list shards of %s: %v", name, err)
	}
	records = map[string][]types.Record{}
	for _, sh := range shards.Shards {
		id := aws.ToString(sh.ShardId)
		ids = append(ids, id)
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(name),
			ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatalf("testenv: shard %s: get shard iterator: %v", id, err)
		}
		for iter := it.ShardIterator; iter != nil; {
			out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(10000)})
			if err != nil {
				t.Fatalf("testenv: shard %s: get records: %v", id, err)
			}
			if len(out.Records) == 0 {
				break // caught up
			}
			records[id] = append(records[id], out.Records...)
			iter = out.NextShardIterator
		}
	}
	return ids, records
}
