package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/sources/kinesis"
)

// kinesisEnv points the AWS configuration of this process at srv.
func kinesisEnv(t *testing.T, srv *testenv.KinesisServer) {
	t.Setenv("AWS_ENDPOINT_URL", srv.Endpoint())
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "x")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// TestProduceThenDescribe runs `produce` (plain and aggregated) and
// `streams describe` against kinesalite and checks what the stream holds.
func TestProduceThenDescribe(t *testing.T) {
	srv := testenv.Kinesalite(t)
	kinesisEnv(t, srv)
	testenv.CreateStream(t, srv.Client, "clicks", 2)

	code, out, errs := runCLI(t, "produce", "--stream", "clicks", "--events", "3000")
	if code != 0 || !strings.Contains(out, "produced 3,000 events to clicks") || !strings.Contains(out, "3,000 Kinesis records") {
		t.Fatalf("produce: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = runCLI(t, "produce", "--stream", "clicks", "--events", "2000", "--aggregate", "--seed", "2")
	if code != 0 || !strings.Contains(out, "produced 2,000 events") {
		t.Fatalf("produce --aggregate: exit %d\n%s%s", code, out, errs)
	}
	aggregated := regexp.MustCompile(`: ([0-9,]+) Kinesis records`).FindStringSubmatch(out)
	if aggregated == nil || aggregated[1] == "2,000" {
		t.Errorf("aggregated produce should pack events into fewer Kinesis records: %s", out)
	}
	if got := countRecords(t, srv.Client, "clicks"); got != 3000+countOf(aggregated[1]) {
		t.Errorf("the stream holds %d Kinesis records, want %d", got, 3000+countOf(aggregated[1]))
	}

	if _, err := srv.Client.SplitShard(t.Context(), &awskinesis.SplitShardInput{StreamName: aws.String("clicks"),
		ShardToSplit: aws.String("shardId-000000000000"), NewStartingHashKey: aws.String("85070591730234615865843651857942052864")}); err != nil {
		t.Fatal(err)
	}
	testenv.WaitActive(t, srv.Client, "clicks")
	code, out, errs = runCLI(t, "streams", "describe", "clicks")
	if code != 0 {
		t.Fatalf("describe: exit %d\n%s", code, errs)
	}
	for _, want := range []string{
		"clicks  ACTIVE  PROVISIONED  retention 24h  3 open shards, 1 closed",
		"shardId-000000000000  closed  -",
		"shardId-000000000002  open    shardId-000000000000  0.0%-25.0%",
		"shardId-000000000003  open    shardId-000000000000  25.0%-50.0%",
		"shardId-000000000001  open    -                     50.0%-100.0%",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}

	code, _, errs = runCLI(t, "streams", "describe", "nope")
	if code == 0 || !strings.Contains(errs, "ResourceNotFoundException") {
		t.Errorf("describe of a missing stream: exit %d, %s", code, errs)
	}
}

// TestStreamsCreateDescribeDelete creates a stream with the CLI, describes
// it and deletes it, against kinesalite.
func TestStreamsCreateDescribeDelete(t *testing.T) {
	srv := testenv.Kinesalite(t)
	kinesisEnv(t, srv)

	for _, bad := range [][]string{{"streams", "create", "made"}, {"streams", "create", "made", "--shards", "0"}} {
		if code, _, errs := runCLI(t, bad...); code == 0 || !strings.Contains(errs, "--shards wants > 0") {
			t.Errorf("%v: exit %d, %s", bad, code, errs)
		}
	}
	code, out, errs := runCLI(t, "streams", "create", "made", "--shards", "3")
	if code != 0 || out != "created made: 3 shards, ACTIVE\n" {
		t.Fatalf("create: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = runCLI(t, "streams", "describe", "made")
	if code != 0 || !strings.Contains(out, "made  ACTIVE  PROVISIONED  retention 24h  3 open shards, 0 closed") {
		t.Fatalf("describe: exit %d\n%s%s", code, out, errs)
	}
	code, _, errs = runCLI(t, "streams", "create", "made", "--shards", "1")
	if code == 0 || !strings.Contains(errs, "ResourceInUseException") {
		t.Errorf("create of a stream that exists: exit %d, %s", code, errs)
	}

	code, out, errs = runCLI(t, "streams", "delete", "made")
	if code != 0 || out != "deleted made\n" {
		t.Fatalf("delete: exit %d\n%s%s", code, out, errs)
	}
	if _, err := srv.Client.DescribeStreamSummary(t.Context(), &awskinesis.DescribeStreamSummaryInput{StreamName: aws.String("made")}); err == nil {
		t.Error("the stream is still there after delete")
	}
	code, _, errs = runCLI(t, "streams", "delete", "made")
	if code == 0 || !strings.Contains(errs, "ResourceNotFoundException") {
		t.Errorf("delete of a missing stream: exit %d, %s", code, errs)
	}
}

// countOf parses a count as the CLI prints it ("12,345").
func countOf(s string) int {
	n, _ := strconv.Atoi(strings.ReplaceAll(s, ",", ""))
	return n
}

// countRecords counts the Kinesis records of every shard of stream.
func countRecords(t *testing.T, c *awskinesis.Client, stream string) int {
	t.Helper()
	_, records := testenv.ReadStream(t, c, stream)
	n := 0
	for _, recs := range records {
		n += len(recs)
	}
	return n
}

func TestReplayRange(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		source, from, to string
		start            string
		end              time.Time // zero: bound at the shards' tips
		err              string
	}{
		{"kinesis://s", "trim_horizon", "now", kinesis.StartTrimHorizon, time.Time{}, ""},
		{"kinesis://s", "2026-11-30T10:00:00Z", "now", "at_timestamp:2026-11-30T10:00:00Z", time.Time{}, ""},
		{"kinesis://s", "2026-11-30T10:00:00Z", "2026-11-30T11:00:00Z", "at_timestamp:2026-11-30T10:00:00Z", now.Add(-time.Hour), ""},
		{"kinesis://s", "2026-11-30T13:00:00Z", "now", "", time.Time{}, "is not before --to"},
		{"kinesis://s", "yesterday", "now", "", time.Time{}, `--from "yesterday"`},
		{"kinesis://s", "trim_horizon", "later", "", time.Time{}, `--to "later"`},
		{"generator", "trim_horizon", "now", "", time.Time{}, "want --source kinesis://STREAM"},
	} {
		cfg, err := replayRange(tc.source, tc.from, tc.to, now)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s %s..%s: got %v, want an error containing %q", tc.source, tc.from, tc.to, err, tc.err)
			}
		case err != nil:
			t.Errorf("%s %s..%s: %v", tc.source, tc.from, tc.to, err)
		case cfg.Start != tc.start || cfg.StopAt == nil || !cfg.StopAt.Time.Equal(tc.end) || cfg.StopAt.Tips != tc.end.IsZero():
			t.Errorf("%s..%s: start %q, stop %+v; want %q, %v", tc.from, tc.to, cfg.Start, cfg.StopAt, tc.start, tc.end)
		}
	}
}
