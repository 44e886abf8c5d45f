package kinesis

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/pipeline/checkpoint"
)

// iteratorGate sits between the SDK client and the server: it notes the
// iterator type of every GetShardIterator call by shard, tells when the
// first shard's iterator was issued, and holds the calls of every other
// shard until release is closed.
type iteratorGate struct {
	base    http.RoundTripper
	first   string        // the shard whose calls pass at once
	issued  chan struct{} // closed once first's iterator was issued
	release chan struct{} // closed by the test to let the other shards open

	once  sync.Once
	mu    sync.Mutex
	types map[string][]string
}

func (g *iteratorGate) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("X-Amz-Target") != "Kinesis_20131202.GetShardIterator" {
		return g.base.RoundTrip(req)
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	var in struct{ ShardId, ShardIteratorType string }
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, err
	}
	g.mu.Lock()
	g.types[in.ShardId] = append(g.types[in.ShardId], in.ShardIteratorType)
	g.mu.Unlock()
	if in.ShardId != g.first {
		select {
		case <-g.release:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	resp, err := g.base.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusOK && in.ShardId == g.first {
		g.once.Do(func() { close(g.issued) })
	}
	return resp, err
}

// TestJobChildrenStartAtTrimHorizon runs the real runtime with Start
// "latest": the parent is opened at LATEST, records go to it, the shard is
// split while the job runs and records go to the children before their
// readers open (the gate holds their GetShardIterator until then). Every
// record put after the start is read exactly once: the runtime opens the
// children at pipeline.Earliest, which the reader asks for as TRIM_HORIZON.
func TestJobChildrenStartAtTrimHorizon(t *testing.T) {
	srv := testenv.Kinesalite(t)
	c := srv.Client
	const stream, parent = "children", "shardId-000000000000"
	testenv.CreateStream(t, c, stream, 1)
	put := func(prefix string, n int) []string {
		var want []string
		var entries []types.PutRecordsRequestEntry
		for i := range n {
			d := fmt.Sprintf("%s-%02d", prefix, i)
			want = append(want, d)
			entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprintf("key-%d", i)), Data: []byte(d)})
		}
		if err := putRound(t.Context(), c, stream, entries); err != nil {
			t.Fatal(err)
		}
		return want
	}
	put("before-start", 5) // latest: not read

	base := http.DefaultTransport.(*http.Transport).Clone()
	defer base.CloseIdleConnections()
	gate := &iteratorGate{base: base, first: parent, issued: make(chan struct{}), release: make(chan struct{}), types: map[string][]string{}}
	src, err := New(t.Context(), Config{Stream: stream, Client: srv.NewClient(gate), Start: StartLatest,
		PollInterval: MinCallInterval, Mem: checkedMem(t)})
	if err != nil {
		t.Fatal(err)
	}
	sink := &collectSink{name: "main", t: t}
	job, err := pipeline.New("kinesis-children").From(src).To(sink).Checkpoints(checkpoint.NewMemory(), time.Hour).Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- job.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	waitRows := func(n int) []row {
		t.Helper()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			sink.mu.Lock()
			got := slices.Clone(sink.rows)
			sink.mu.Unlock()
			if len(got) >= n {
				return got
			}
			select {
			case err := <-done:
				done <- err
				t.Fatalf("the job ended with %d of %d rows: %v", len(got), n, err)
			case <-ctx.Done():
				t.Fatalf("%d of %d rows before the deadline", len(got), n)
			case <-tick.C:
			}
		}
	}

	select {
	case <-gate.issued:
	case <-ctx.Done():
		t.Fatal("the parent's iterator was never issued")
	}
	want := put("parent", 10)
	waitRows(len(want))

	if _, err := c.SplitShard(t.Context(), &kinesis.SplitShardInput{StreamName: aws.String(stream),
		ShardToSplit: aws.String(parent), NewStartingHashKey: aws.String(splitPoint(t, c, stream, parent))}); err != nil {
		t.Fatal(err)
	}
	testenv.WaitActive(t, c, stream)
	want = append(want, put("child", 20)...) // before any child's reader has an iterator
	close(gate.release)
	got := waitRows(len(want))
	if err := job.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	done <- nil
	sink.mu.Lock()
	got = slices.Clone(sink.rows)
	sink.mu.Unlock()

	var data []string
	perShard := map[string]int{}
	for _, r := range got {
		data = append(data, r.Data)
		perShard[r.Shard]++
	}
	slices.Sort(data)
	slices.Sort(want)
	if !slices.Equal(data, want) {
		t.Errorf("read %d records, want the %d put after the start, each once:\n got %v\nwant %v", len(data), len(want), data, want)
	}
	gate.mu.Lock()
	defer gate.mu.Unlock()
	t.Logf("rows per shard %v; iterator types %v", perShard, gate.types)
	if got := gate.types[parent]; len(got) == 0 || got[0] != "LATEST" {
		t.Errorf("parent opened with %v, want LATEST", got)
	}
	children := 0
	for sh, typs := range gate.types {
		if sh == parent {
			continue
		}
		children++
		if typs[0] != "TRIM_HORIZON" {
			t.Errorf("child %s opened with %v, want TRIM_HORIZON", sh, typs)
		}
	}
	if children != 2 {
		t.Errorf("%d children opened, want 2", children)
	}
	if perShard[parent] != 10 || len(perShard) != 3 {
		t.Errorf("rows per shard %v, want 10 in the parent and the rest in the two children", perShard)
	}
}
