package main

import (
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardflow/shardflow/internal/testenv"
)

// TestReplayDryRunAfterSplit puts 15,000 records on a one-shard kinesalite
// stream, splits the shard and puts 2,000 more; `replay --dry-run` lists the
// closed parent before its two children, estimates the records within a
// factor of 1.5 (the parent's 15,000 from a sample of 10,000, scaled by
// arrival time; the children's exactly) and creates neither the checkpoint
// nor the output directory.
func TestReplayDryRunAfterSplit(t *testing.T) {
	bin := buildBinary(t)
	srv := testenv.Kinesalite(t)
	c := srv.Client
	const stream = "clicks-dry"
	testenv.CreateStream(t, c, stream, 1)
	put := func(n, from int) {
		for i := 0; i < n; i += 500 {
			var entries []types.PutRecordsRequestEntry
			for j := i; j < min(i+500, n); j++ {
				entries = append(entries, types.PutRecordsRequestEntry{
					PartitionKey: aws.String(fmt.Sprintf("user-%d", from+j)), Data: []byte(fmt.Sprintf(`{"n":%d,"pad":"%064d"}`, from+j, 0))})
			}
			out, err := c.PutRecords(t.Context(), &awskinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToInt32(out.FailedRecordCount) > 0 {
				t.Fatalf("%d records failed", aws.ToInt32(out.FailedRecordCount))
			}
		}
	}
	put(15_000, 0)
	half := new(big.Int).Lsh(big.NewInt(1), 127)
	if _, err := c.SplitShard(t.Context(), &awskinesis.SplitShardInput{StreamName: aws.String(stream),
		ShardToSplit: aws.String("shardId-000000000000"), NewStartingHashKey: aws.String(half.String())}); err != nil {
		t.Fatalf("split: %v", err)
	}
	testenv.WaitActive(t, c, stream)
	put(2_000, 15_000)

	dir := t.TempDir()
	cmd := exec.Command(bin, "replay", "clickstream", "--dry-run", "--source", "kinesis://"+stream,
		"--out", filepath.Join(dir, "out"), "--checkpoints", filepath.Join(dir, "ckpt"))
	cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL="+srv.Endpoint(), "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x",
		"AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true")
	outb, err := cmd.CombinedOutput()
	out := string(outb)
	t.Logf("dry run:\n%s", out)
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	var ids, states []string
	for _, m := range regexp.MustCompile(`(?m)^\s+(shardId-\d+)\s+(open|closed)\s`).FindAllStringSubmatch(out, -1) {
		ids, states = append(ids, m[1]), append(states, m[2])
	}
	if want := "shardId-000000000000 shardId-000000000001 shardId-000000000002"; strings.Join(ids, " ") != want {
		t.Fatalf("shards %v, want %s", ids, want)
	}
	if want := "closed open open"; strings.Join(states, " ") != want {
		t.Fatalf("states %v, want %s", states, want)
	}
	m := regexp.MustCompile(`(?m)^  records\s+([\d,]+),`).FindStringSubmatch(out)
	if m == nil {
		t.Fatal("no records line")
	}
	n, _ := strconv.Atoi(strings.ReplaceAll(m[1], ",", ""))
	if got := float64(n) / 17_000; got < 1/1.5 || got > 1.5 {
		t.Fatalf("estimate %d records, %.2f times the 17,000 put; want within a factor of 1.5", n, got)
	}
	if !regexp.MustCompile(`(?m)^  calls\s+\d+ GetRecords`).MatchString(out) || !strings.Contains(out, "with enhanced fan-out") {
		t.Fatalf("no calls or time lines")
	}
	for _, d := range []string{"out", "ckpt"} {
		if _, err := os.Stat(filepath.Join(dir, d)); !os.IsNotExist(err) {
			t.Errorf("dry run left %s: %v", d, err)
		}
	}
}
