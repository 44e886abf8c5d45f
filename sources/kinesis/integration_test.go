package kinesis

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/pipeline"
)

// Integration tests run against real Kinesis API servers started by
// internal/testenv; they fail when a server cannot start.

// putRound writes entries with one PutRecords call and fails on any failed
// record (neither server has throughput limits).
func putRound(ctx context.Context, c *kinesis.Client, stream string, entries []types.PutRecordsRequestEntry) error {
	out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
	if err != nil {
		return err
	}
	if n := aws.ToInt32(out.FailedRecordCount); n > 0 {
		return fmt.Errorf("%d records failed", n)
	}
	return nil
}

// clickWriter writes rounds of records "key|counter" for keys user-0..user-K:
// one record per key per PutRecords call (so per-key order is the put
// order), every fifth round as KPL aggregates of three records per key.
type clickWriter struct {
	keys   int
	counts []int
	total  int
}

func (w *clickWriter) round(t testing.TB, r int) []types.PutRecordsRequestEntry {
	if w.counts == nil {
		w.counts = make([]int, w.keys)
	}
	var entries []types.PutRecordsRequestEntry
	for k := range w.keys {
		key := fmt.Sprintf("user-%d", k)
		next := func() string {
			s := fmt.Sprintf("%s|%d", key, w.counts[k])
			w.counts[k]++
			w.total++
			return s
		}
		if r%5 == 4 {
			entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(key),
				Data: aggregate(t, key+":"+next(), key+":"+next(), key+":"+next())})
			continue
		}
		entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(key), Data: []byte(next())})
	}
	return entries
}

// readJob emulates the runtime's shard scheduling: one goroutine per shard,
// a child starts only once every listed parent has ended, shards are listed
// again whenever a shard ends and every interval. It returns when ctx is done
// or, for a bounded source, when every listed shard has ended.
type readJob struct {
	mu    sync.Mutex
	rows  []row
	ended map[string]bool
	// onRows, when set, is called with the number of rows read so far after
	// each batch.
	onRows func(n int)
}

func (j *readJob) run(ctx context.Context, t testing.TB, src pipeline.Source) {
	t.Helper()
	j.ended = map[string]bool{}
	started := map[string]bool{}
	endedCh := make(chan string, 64)
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for {
		shards, err := src.Shards(ctx)
		if err != nil {
			if ctx.Err() == nil {
				t.Errorf("Shards: %v", err)
			}
			return
		}
		listed := map[string]bool{}
		for _, sh := range shards {
			listed[sh.ID] = true
		}
		allEnded := true
		for _, sh := range shards {
			j.mu.Lock()
			done := j.ended[sh.ID]
			ready := true
			for _, p := range sh.Parents {
				if listed[p] && !j.ended[p] {
					ready = false
				}
			}
			j.mu.Unlock()
			allEnded = allEnded && done
			if started[sh.ID] || !ready {
				continue
			}
			started[sh.ID] = true
			wg.Go(func() { j.readShard(ctx, t, src, sh, endedCh) })
		}
		if src.Bounded() && allEnded {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-endedCh:
		case <-tick.C:
		}
	}
}

func (j *readJob) readShard(ctx context.Context, t testing.TB, src pipeline.Source, sh pipeline.Shard, endedCh chan<- string) {
	r, err := src.OpenShard(ctx, sh, pipeline.Position{})
	if err != nil {
		t.Errorf("OpenShard %s: %v", sh.ID, err)
		return
	}
	defer r.Close()
	for {
		b, err := r.Read(ctx)
		switch {
		case errors.Is(err, pipeline.ErrShardEnd), errors.Is(err, pipeline.ErrBoundReached):
			j.mu.Lock()
			j.ended[sh.ID] = true
			j.mu.Unlock()
			endedCh <- sh.ID
			return
		case ctx.Err() != nil:
			return
		case err != nil:
			t.Errorf("shard %s: Read: %v", sh.ID, err)
			return
		}
		if b != nil {
			got := rows(t, b)
			j.mu.Lock()
			j.rows = append(j.rows, got...)
			n := len(j.rows)
			j.mu.Unlock()
			if j.onRows != nil {
				j.onRows(n)
			}
		}
	}
}

func (j *readJob) count() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.rows)
}

// checkClicks checks that rows hold, for every key, exactly the counters
// 0..counts[k]-1 in order: nothing lost, nothing repeated, per-key order kept.
func checkClicks(t testing.TB, rows []row, w *clickWriter) {
	t.Helper()
	next := make([]int, w.keys)
	bad := 0
	for _, r := range rows {
		key, counter, ok := strings.Cut(r.Data, "|")
		k, err1 := strconv.Atoi(strings.TrimPrefix(key, "user-"))
		c, err2 := strconv.Atoi(counter)
		if !ok || err1 != nil || err2 != nil || r.Key != key || r.Dead != "" {
			t.Fatalf("unexpected row %+v", r)
		}
		if c != next[k] {
			if bad++; bad < 10 {
				t.Errorf("key %s: got counter %d at %v in shard %s, want %d", key, c, r.Pos, r.Shard, next[k])
			}
			next[k] = c + 1
			continue
		}
		next[k]++
	}
	for k, n := range w.counts {
		if next[k] != n {
			t.Errorf("key user-%d: read up to %d, wrote %d", k, next[k], n)
		}
	}
	if len(rows) != w.total {
		t.Errorf("read %d rows, wrote %d", len(rows), w.total)
	}
}

// splitPoint returns the middle of a shard's hash-key range.
func splitPoint(t testing.TB, c *kinesis.Client, stream, shard string) string {
	out, err := c.ListShards(t.Context(), &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range out.Shards {
		if aws.ToString(sh.ShardId) == shard {
			lo, _ := new(big.Int).SetString(*sh.HashKeyRange.StartingHashKey, 10)
			hi, _ := new(big.Int).SetString(*sh.HashKeyRange.EndingHashKey, 10)
			return new(big.Int).Rsh(new(big.Int).Add(lo, hi), 1).String()
		}
	}
	t.Fatalf("no shard %s", shard)
	return ""
}

// TestKinesaliteReshardWhileWriting writes a 4-shard stream while splitting
// one shard and merging two others, reads it at the same time with the
// runtime's parent-before-child scheduling, and then replays it bounded.
func TestKinesaliteReshardWhileWriting(t *testing.T) {
	srv := testenv.Kinesalite(t)
	c := srv.Client
	const stream = "clicks"
	testenv.CreateStream(t, c, stream, 4)

	w := &clickWriter{keys: 40}
	const rounds = 100
	reshard := make(chan int, 2)
	writeErr := make(chan error, 1)
	reshardErr := make(chan error, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	src, err := New(ctx, Config{Stream: stream, Client: c, PollInterval: 200 * time.Millisecond, Mem: checkedMem(t)})
	if err != nil {
		t.Fatal(err)
	}
	readCtx, stopReading := context.WithCancel(ctx)
	job := &readJob{}
	jobDone := make(chan struct{})
	go func() { defer close(jobDone); job.run(readCtx, t, src) }()

	entries := make([][]types.PutRecordsRequestEntry, rounds)
	for r := range rounds {
		entries[r] = w.round(t, r)
	}
	go func() {
		defer close(reshard)
		for r := range rounds {
			if err := putRound(ctx, c, stream, entries[r]); err != nil {
				writeErr <- fmt.Errorf("round %d: %w", r, err)
				return
			}
			if r == 30 || r == 60 {
				reshard <- r
			}
		}
		writeErr <- nil
	}()
	go func() {
		var err error
		for r := range reshard {
			if r == 30 {
				_, err = c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String(stream),
					ShardToSplit: aws.String("shardId-000000000000"), NewStartingHashKey: aws.String(splitPoint(t, c, stream, "shardId-000000000000"))})
			} else {
				_, err = c.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: aws.String(stream),
					ShardToMerge: aws.String("shardId-000000000002"), AdjacentShardToMerge: aws.String("shardId-000000000003")})
			}
			if err != nil {
				break
			}
			testenv.WaitActive(t, c, stream)
		}
		reshardErr <- err
	}()
	if err := <-writeErr; err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := <-reshardErr; err != nil {
		t.Fatalf("reshard: %v", err)
	}
	writtenAt := time.Now()

	// Read until every record arrived (the job is unbounded).
	tick := time.NewTicker(50 * time.Millisecond)
	for job.count() < w.total && ctx.Err() == nil {
		<-tick.C
	}
	tick.Stop()
	stopReading()
	<-jobDone
	checkClicks(t, job.rows, w)
	if len(job.ended) != 3 {
		t.Errorf("%d shards ended while reading live (%v), want the 3 closed parents", len(job.ended), job.ended)
	}

	// A bounded replay of the same stream ends by itself with the same rows.
	// kinesalite dates a new shard (and the arrival of its records) one second
	// into the future, so the bound is a second later than the last put.
	replay, err := New(ctx, Config{Stream: stream, Client: c, PollInterval: 200 * time.Millisecond,
		StopAt: &StopAt{Time: writtenAt.Add(1100 * time.Millisecond)}, Mem: checkedMem(t)})
	if err != nil {
		t.Fatal(err)
	}
	if !replay.Bounded() {
		t.Fatal("replay not bounded")
	}
	bounded := &readJob{}
	bounded.run(ctx, t, replay)
	if ctx.Err() != nil {
		t.Fatalf("bounded replay did not end: %v", ctx.Err())
	}
	checkClicks(t, bounded.rows, w)
	if len(bounded.ended) != 7 {
		t.Errorf("%d shards ended in the replay, want 7", len(bounded.ended))
	}
}
