package main

import (
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/pipeline/checkpoint"
	"github.com/shardflow/shardflow/sources/generator"
)

// TestReplayToNowWhileWritten runs `shardflow replay clickstream --to now`
// on a 2-shard kinesalite stream while a writer keeps putting events before,
// during and after it. The replay ends although records keep coming, and it
// read exactly the records up to the tips its checkpoint recorded: every
// record put before it started, and fewer than the stream held when it
// exited.
func TestReplayToNowWhileWritten(t *testing.T) {
	bin := buildBinary(t)
	srv := testenv.Kinesalite(t)
	c := srv.Client
	const stream = "clicks-live"
	testenv.CreateStream(t, c, stream, 2)
	ref, err := generator.NewReference(generator.Config{Shards: 2, Events: 1_000_000, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	var next int64 // the next event of each generator shard
	put := func() error {
		var entries []types.PutRecordsRequestEntry
		for s := range 2 {
			for i := next; i < next+25; i++ {
				data, key, _ := ref.Append(nil, s, i)
				entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(key), Data: data})
			}
		}
		next += 25
		out, err := c.PutRecords(t.Context(), &awskinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
		if err != nil {
			return err
		}
		if n := aws.ToInt32(out.FailedRecordCount); n > 0 {
			return fmt.Errorf("%d records failed", n)
		}
		return nil
	}
	for range 40 {
		if err := put(); err != nil {
			t.Fatal(err)
		}
	}
	before := int64(40 * 50)

	var written atomic.Int64
	written.Store(before)
	stop, writerDone := make(chan struct{}), make(chan error, 1)
	go func() {
		// Load, not synchronisation: a put every 20 ms, about 2,500 records/s.
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				writerDone <- nil
				return
			case <-tick.C:
			}
			if err := put(); err != nil {
				writerDone <- err
				return
			}
			written.Add(50)
		}
	}()
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
			<-writerDone
		}
	}()

	dir := t.TempDir()
	ckpt := filepath.Join(dir, "ckpt")
	cmd := exec.Command(bin, "replay", "clickstream", "--source", "kinesis://"+stream, "--from", "trim_horizon", "--to", "now",
		"--status", "off", "--out", filepath.Join(dir, "out"), "--checkpoints", ckpt, "--checkpoint-step", "200ms")
	cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL="+srv.Endpoint(), "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x",
		"AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true")
	out, err := cmd.CombinedOutput()
	atExit := written.Load()
	close(stop)
	if werr := <-writerDone; werr != nil {
		t.Fatalf("writer: %v", werr)
	}
	if err != nil {
		t.Fatalf("replay while written: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	m := regexp.MustCompile(`records in +([0-9,]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no records in the summary:\n%s", out)
	}
	read, _ := strconv.ParseInt(strings.ReplaceAll(string(m[1]), ",", ""), 10, 64)

	// The tips the replay kept, and the records of the stream up to them.
	jobDirs, _ := filepath.Glob(filepath.Join(ckpt, "*"))
	if len(jobDirs) != 1 {
		t.Fatalf("checkpoint directories %v, want one job's", jobDirs)
	}
	store, err := checkpoint.NewDir(ckpt, checkpoint.DirConfig{})
	if err != nil {
		t.Fatal(err)
	}
	cp, err := store.Latest(t.Context(), filepath.Base(jobDirs[0]))
	if err != nil || cp == nil {
		t.Fatalf("latest checkpoint: %v", err)
	}
	var id struct {
		Tips *struct {
			Open   map[string]string `json:"open"`
			Closed []string          `json:"closed"`
		} `json:"tips"`
	}
	if err := json.Unmarshal(cp.Source, &id); err != nil || id.Tips == nil || len(id.Tips.Open) != 2 {
		t.Fatalf("the checkpoint's source identity %s has no tips of the two shards (%v)", cp.Source, err)
	}
	_, records := testenv.ReadStream(t, c, stream)
	upToTips, total := int64(0), int64(0)
	for shard, recs := range records {
		tip, ok := new(big.Int).SetString(id.Tips.Open[shard], 10)
		if !ok {
			t.Fatalf("shard %s: tip %q is not a sequence number", shard, id.Tips.Open[shard])
		}
		for _, r := range recs {
			total++
			if seq, _ := new(big.Int).SetString(aws.ToString(r.SequenceNumber), 10); seq.Cmp(tip) <= 0 {
				upToTips++
			}
		}
	}
	t.Logf("%d put before the replay, %d read, %d up to the tips, %d in the stream at its exit, %d in the end", before, read, upToTips, atExit, total)
	if read != upToTips {
		t.Errorf("the replay read %d records, want the %d up to the tips its checkpoint recorded", read, upToTips)
	}
	if read < before {
		t.Errorf("the replay read %d records, fewer than the %d put before it started", read, before)
	}
	if atExit <= read {
		t.Errorf("the stream held %d records when the replay exited and it read %d: the writer did not outrun it, the test did not test", atExit, read)
	}
}
