package kinesis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"reflect"
	"slices"
	"strings"
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

// readerGate sits between the SDK client and the server. It tells the tip
// capture from the shard readers, which ask for iterators only once the
// source holds its tips (captured). It notes every GetShardIterator by shard
// and type, closes readers at the first reader's, and from then on lets
// pass GetRecords calls only while allow > 0 (negative: all), holding the
// others until release is closed or their request ends.
type readerGate struct {
	base     http.RoundTripper
	captured func() bool   // set before the first call
	readers  chan struct{} // closed at the first reader's GetShardIterator
	release  chan struct{} // closed by the test

	once      sync.Once
	mu        sync.Mutex
	reading   bool
	allow     int
	iterators map[string][]string // by shard: "TYPE" or "TYPE refused"
	held      int                 // GetRecords calls held
}

func newReaderGate(base http.RoundTripper, allow int) *readerGate {
	return &readerGate{base: base, readers: make(chan struct{}), release: make(chan struct{}), allow: allow, iterators: map[string][]string{}}
}

func (g *readerGate) RoundTrip(req *http.Request) (*http.Response, error) {
	switch req.Header.Get("X-Amz-Target") {
	case "Kinesis_20131202.GetShardIterator":
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
		if g.captured() {
			g.mu.Lock()
			g.reading = true
			g.mu.Unlock()
			g.once.Do(func() { close(g.readers) })
		}
		resp, err := g.base.RoundTrip(req)
		typ := in.ShardIteratorType
		if err == nil && resp.StatusCode != http.StatusOK {
			typ += " refused"
		}
		g.mu.Lock()
		g.iterators[in.ShardId] = append(g.iterators[in.ShardId], typ)
		g.mu.Unlock()
		return resp, err
	case "Kinesis_20131202.GetRecords":
		g.mu.Lock()
		pass := !g.reading || g.allow != 0
		if g.reading && g.allow > 0 {
			g.allow--
		}
		if !pass {
			g.held++
		}
		g.mu.Unlock()
		if !pass {
			select {
			case <-g.release:
			case <-req.Context().Done():
				return nil, req.Context().Err()
			}
		}
	}
	return g.base.RoundTrip(req)
}

// count returns how many GetShardIterator calls of type typ were made.
func (g *readerGate) count(typ string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, typs := range g.iterators {
		for _, t := range typs {
			if t == typ {
				n++
			}
		}
	}
	return n
}

// putTo puts n records "prefix-i" into shard (by its starting hash key) and
// returns their data.
func putTo(t *testing.T, c *kinesis.Client, stream, shard, prefix string, n int) []string {
	t.Helper()
	out, err := c.ListShards(t.Context(), &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	var key *string
	for _, sh := range out.Shards {
		if aws.ToString(sh.ShardId) == shard {
			key = sh.HashKeyRange.StartingHashKey
		}
	}
	if key == nil {
		t.Fatalf("no shard %s", shard)
	}
	var data []string
	for i := range n {
		d := fmt.Sprintf("%s-%02d", prefix, i)
		if _, err := c.PutRecord(t.Context(), &kinesis.PutRecordInput{StreamName: aws.String(stream), PartitionKey: aws.String("k"),
			ExplicitHashKey: key, Data: []byte(d)}); err != nil {
			t.Fatal(err)
		}
		data = append(data, d)
	}
	return data
}

// putAggregate puts one KPL aggregate of users "prefix-a0".. into shard and
// returns their data.
func putAggregate(t *testing.T, c *kinesis.Client, stream, shard, prefix string, users int) []string {
	t.Helper()
	var recs, data []string
	for i := range users {
		d := fmt.Sprintf("%s-a%d", prefix, i)
		recs, data = append(recs, "k:"+d), append(data, d)
	}
	out, err := c.ListShards(t.Context(), &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range out.Shards {
		if aws.ToString(sh.ShardId) == shard {
			if _, err := c.PutRecord(t.Context(), &kinesis.PutRecordInput{StreamName: aws.String(stream), PartitionKey: aws.String("k"),
				ExplicitHashKey: sh.HashKeyRange.StartingHashKey, Data: aggregate(t, recs...)}); err != nil {
				t.Fatal(err)
			}
			return data
		}
	}
	t.Fatalf("no shard %s", shard)
	return nil
}

func split(t *testing.T, c *kinesis.Client, stream, shard string) {
	t.Helper()
	if _, err := c.SplitShard(t.Context(), &kinesis.SplitShardInput{StreamName: aws.String(stream),
		ShardToSplit: aws.String(shard), NewStartingHashKey: aws.String(splitPoint(t, c, stream, shard))}); err != nil {
		t.Fatal(err)
	}
	testenv.WaitActive(t, c, stream)
}

func shardID(i int) string { return fmt.Sprintf("shardId-%012d", i) }

// runTips runs a replay of stream from trim_horizon bounded by StopAt.Tips
// with the real runtime and store, its source's clock shifted by skew. With
// during, it waits until the capture is done and the readers started (the
// gate holds every reader's GetRecords), calls during and releases them;
// with stopAfter > 0, it lets that many reader GetRecords calls pass, shuts
// the job down (a final checkpoint) once the sink holds at least one row,
// and holds the other calls. It returns the data read and the gate.
func runTips(t *testing.T, srv *testenv.KinesisServer, stream string, store pipeline.CheckpointStore, skew time.Duration,
	during func(), stopAfter int) ([]string, *readerGate) {
	t.Helper()
	base := http.DefaultTransport.(*http.Transport).Clone()
	defer base.CloseIdleConnections()
	allow := -1
	if during != nil {
		allow = 0
	} else if stopAfter > 0 {
		allow = stopAfter
	}
	gate := newReaderGate(base, allow)
	src, err := New(t.Context(), Config{Stream: stream, Client: srv.NewClient(gate), PollInterval: MinCallInterval, MaxRecordsPerCall: 5,
		StopAt: &StopAt{Tips: true}, Mem: checkedMem(t)})
	if err != nil {
		t.Fatal(err)
	}
	src.clock = func() time.Time { return time.Now().Add(skew) }
	gate.captured = func() bool {
		src.idMu.Lock()
		defer src.idMu.Unlock()
		return src.tips != nil
	}
	sink := &collectSink{name: "main", t: t}
	job, err := pipeline.New("kinesis-tips").From(src).To(sink).Checkpoints(store, time.Hour).Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- job.Run(ctx) }()
	switch {
	case during != nil:
		select {
		case <-gate.readers:
		case err := <-done:
			t.Fatalf("the job ended before any reader started: %v", err)
		}
		during()
		close(gate.release)
	case stopAfter > 0:
		tick := time.NewTicker(10 * time.Millisecond)
		for n := 0; n == 0; {
			select {
			case <-tick.C:
			case err := <-done:
				t.Fatalf("the job ended before it was stopped: %v", err)
			}
			sink.mu.Lock()
			n = len(sink.rows)
			sink.mu.Unlock()
		}
		tick.Stop()
		if err := job.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	var data []string
	for _, r := range sink.rows {
		data = append(data, r.Data)
	}
	return data, gate
}

// TestTipsBoundReplayToRecordsBeforeStart replays a stream "to now" while
// records keep arriving: a shard closed before the start (read to its end),
// its children (one of them empty: read not at all), and a shard that is
// split while the replay reads, whose children hold only records put after
// the start. The gate holds every reader until the second phase is put, so
// the replay can only end at the first phase by the tips it captured. The
// last record of a tip is a KPL aggregate, read whole. The source's clock is
// right, hours ahead (the server refuses its first timestamps) or hours
// behind: the same records either way.
func TestTipsBoundReplayToRecordsBeforeStart(t *testing.T) {
	for _, skew := range []time.Duration{0, 3 * time.Hour, -3 * time.Hour} {
		t.Run(fmt.Sprintf("skew %v", skew), func(t *testing.T) {
			srv := testenv.Kinesalite(t)
			c := srv.Client
			const stream = "tips"
			testenv.CreateStream(t, c, stream, 2)
			var want []string
			want = append(want, putTo(t, c, stream, shardID(0), "closed", 7)...)
			split(t, c, stream, shardID(0)) // children 2 and 3
			want = append(want, putTo(t, c, stream, shardID(2), "child", 6)...)
			want = append(want, putTo(t, c, stream, shardID(1), "open", 9)...)
			want = append(want, putAggregate(t, c, stream, shardID(1), "open", 3)...) // the tip of shard 1
			// shard 3 is open and empty

			var late []string
			got, gate := runTips(t, srv, stream, checkpoint.NewMemory(), skew, func() {
				late = append(late, putTo(t, c, stream, shardID(1), "late", 4)...)
				late = append(late, putTo(t, c, stream, shardID(2), "late-child", 4)...)
				late = append(late, putTo(t, c, stream, shardID(3), "late-empty", 4)...)
				split(t, c, stream, shardID(1)) // children 4 and 5, after the start
				late = append(late, putTo(t, c, stream, shardID(4), "late-new", 4)...)
				late = append(late, putTo(t, c, stream, shardID(5), "late-new", 4)...)
			}, 0)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("read %d records, want the %d put before the start, each once (not the %d put later):\n got %v\nwant %v",
					len(got), len(want), len(late), got, want)
			}
			gate.mu.Lock()
			t.Logf("iterators %v; %d GetRecords held until the late records were put", gate.iterators, gate.held)
			gate.mu.Unlock()
			if n := gate.count("AT_TIMESTAMP refused"); (skew > 0) != (n > 0) {
				t.Errorf("%d AT_TIMESTAMP iterators refused with the clock %v off; the skew did not reach the capture", n, skew)
			}
		})
	}
}

// TestTipsResumedReplayEndsAtCheckpointedTips stops a replay "to now" after
// a few calls (a final checkpoint, shards read part-way), puts more records,
// and resumes it with a new source whose clock is hours off: it ends at the
// tips of the checkpoint without capturing new ones, so the two runs read
// the records put before the first start, each once.
func TestTipsResumedReplayEndsAtCheckpointedTips(t *testing.T) {
	srv := testenv.Kinesalite(t)
	c := srv.Client
	const stream = "tips-resume"
	testenv.CreateStream(t, c, stream, 2)
	var want []string
	for i := range 2 {
		want = append(want, putTo(t, c, stream, shardID(i), fmt.Sprintf("first-%d", i), 23)...)
	}
	store := checkpoint.NewMemory()
	first, _ := runTips(t, srv, stream, store, 0, nil, 2)
	if len(first) == 0 || len(first) >= len(want) {
		t.Fatalf("the first run read %d of %d records: not part-way", len(first), len(want))
	}
	cp, err := store.Latest(t.Context(), "kinesis-tips")
	if err != nil || cp == nil {
		t.Fatalf("no checkpoint after the first run: %v", err)
	}
	var id identity
	if err := json.Unmarshal(cp.Source, &id); err != nil || id.Tips == nil || len(id.Tips.Open) != 2 {
		t.Fatalf("the checkpoint's source identity %s has no tips of the two shards (%v)", cp.Source, err)
	}
	late := putTo(t, c, stream, shardID(0), "late", 5)
	late = append(late, putTo(t, c, stream, shardID(1), "late", 5)...)

	second, gate := runTips(t, srv, stream, store, -2*time.Hour, nil, 0)
	got := append(slices.Clone(first), second...)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the two runs read %d records (%d, then %d), want the %d put before the first start, each once (not the %d put later):\n got %v\nwant %v",
			len(got), len(first), len(second), len(want), len(late), got, want)
	}
	if n := gate.count("AT_TIMESTAMP"); n != 0 {
		t.Errorf("the resumed replay asked for %d AT_TIMESTAMP iterators: it captured tips anew instead of using the checkpoint's", n)
	}
}

// TestTipsInIdentity: a replay's identity carries its tips, which a new
// replay source adopts from it; a checkpoint without tips (written before
// they were kept) resumes and leaves them to be captured; tips of a later
// format are refused by a replay and ignored by a source that is not bound
// by tips.
func TestTipsInIdentity(t *testing.T) {
	api := newFake(&fakeShard{id: "shardId-0"})
	replay := func() *Source {
		src, err := New(t.Context(), Config{Stream: "s", Client: api, StopAt: &StopAt{Tips: true}})
		if err != nil {
			t.Fatal(err)
		}
		return src
	}
	first := replay()
	tips := &tipSet{V: tipsVersion, Open: map[string]string{"shardId-0": "49590338271490256608559692538361571095921575989136588898", "shardId-1": ""},
		Closed: []string{"shardId-2"}, Taken: time.Date(2026, 12, 3, 13, 0, 0, 0, time.UTC)}
	first.tips = tips
	saved := first.Identity()

	second := replay()
	if err := second.Resume(saved); err != nil {
		t.Fatalf("Resume(%s): %v", saved, err)
	}
	if second.tips == nil || !reflect.DeepEqual(*second.tips, *tips) {
		t.Fatalf("resumed tips %+v, want %+v (identity %s)", second.tips, tips, saved)
	}
	if got := second.Identity(); !bytes.Equal(got, saved) {
		t.Errorf("the resumed source's identity %s, want the checkpoint's %s", got, saved)
	}
	for shard, want := range map[string]tipBound{
		"shardId-0": {pos: pipeline.Position{Seq: tips.Open["shardId-0"], N: math.MaxInt64}, bounded: true},
		"shardId-1": {none: true}, // open and empty at the capture
		"shardId-2": {},           // closed: to its end
		"shardId-9": {none: true}, // created after the capture
	} {
		if got := second.tips.bound(shard); got != want {
			t.Errorf("bound(%s) = %+v, want %+v", shard, got, want)
		}
	}

	old := replay()
	if err := old.Resume([]byte(`{"stream":"s"}`)); err != nil || old.tips != nil {
		t.Errorf("Resume of an identity without tips: %v, tips %+v; want nil and none", err, old.tips)
	}

	later := []byte(`{"stream":"s","tips":{"v":2,"open":{}}}`)
	if err := replay().Resume(later); !errors.Is(err, pipeline.ErrIncompatibleSource) || !strings.Contains(err.Error(), "version 2") {
		t.Errorf("Resume of tips version 2: %v, want ErrIncompatibleSource naming the version", err)
	}
	live, err := New(t.Context(), Config{Stream: "s", Client: api})
	if err != nil {
		t.Fatal(err)
	}
	if err := live.Resume(later); err != nil || live.tips != nil {
		t.Errorf("an unbounded source's Resume of tips version 2: %v, tips %+v; want nil and none", err, live.tips)
	}
	if id := string(live.Identity()); strings.Contains(id, "tips") {
		t.Errorf("an unbounded source's identity %s has tips", id)
	}
}

// TestTipCaptureEndsWhileWritten: a shard that gets a record at every
// GetRecords call is never caught up with an empty answer; the capture
// still ends, one call after the first answer at MillisBehindLatest 0, at a
// record that the shard held then. A closed shard found during the capture
// is read to its end.
func TestTipCaptureEndsWhileWritten(t *testing.T) {
	busy, closed := &fakeShard{id: "shardId-0"}, &fakeShard{id: "shardId-1", closed: true}
	api := newFake(busy, closed)
	for i := range 12 {
		api.put(busy, "k", fmt.Appendf(nil, "r%d", i))
	}
	api.put(closed, "k", []byte("c"))
	api.fail = func(op string, n int) error {
		if op == "GetRecords" { // a writer faster than the capture, under the fake's lock
			api.seq++
			now := time.Now()
			busy.records = append(busy.records, types.Record{Data: []byte("late"), PartitionKey: aws.String("k"),
				SequenceNumber: aws.String(fmt.Sprintf("4959%032d", api.seq)), ApproximateArrivalTimestamp: &now})
		}
		return nil
	}
	src, err := New(t.Context(), Config{Stream: "s", Client: api, MaxRecordsPerCall: 5, StopAt: &StopAt{Tips: true}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	tips, err := src.captureTips(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tips.Closed, []string{"shardId-1"}) || len(tips.Open) != 1 {
		t.Fatalf("tips %+v, want shardId-0 open and shardId-1 closed", tips)
	}
	api.mu.Lock()
	defer api.mu.Unlock()
	tip := tips.Open["shardId-0"]
	at := slices.IndexFunc(busy.records, func(r types.Record) bool { return *r.SequenceNumber == tip })
	// The writer puts a record before the fake answers each call: the last
	// answer, one call after the first at MillisBehindLatest 0, ends with
	// the shard's last record.
	if at != len(busy.records)-1 {
		t.Errorf("tip %s is record %d of %d: want the last, which the capture's last call answered", tip, at, len(busy.records))
	}
	t.Logf("tip at record %d of %d after %d GetRecords", at, len(busy.records), api.counts["GetRecords"])
}

// TestTipBehindTheStartEndsTheShard: a replay that starts after a shard's
// tip (--from later than its last record) ends the shard once caught up
// instead of waiting for a record past the tip.
func TestTipBehindTheStartEndsTheShard(t *testing.T) {
	sh := &fakeShard{id: "shardId-0"}
	api := newFake(sh)
	api.put(sh, "k", []byte("a"), []byte("b"))
	from := time.Now().Add(time.Second).UTC().Format(time.RFC3339Nano)
	src, err := New(t.Context(), Config{Stream: "s", Client: api, Start: StartAtTimestampPrefix + from, PollInterval: MinCallInterval,
		StopAt: &StopAt{Tips: true}, Mem: checkedMem(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	r, err := src.OpenShard(ctx, pipeline.Shard{ID: sh.id}, pipeline.Position{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		b, err := r.Read(ctx)
		if errors.Is(err, pipeline.ErrBoundReached) {
			break
		}
		if err != nil {
			t.Fatalf("Read: %v, want ErrBoundReached once caught up past the tip", err)
		}
		if b != nil {
			t.Fatalf("read %v, want nothing after --from", rows(t, b))
		}
	}
	if got := src.tips.Open[sh.id]; got == "" {
		t.Errorf("tips %+v: want shardId-0's last record", src.tips)
	}
}

// TestTipCaptureLooksNearTheServersNow: a shard written every 2 s for the
// last 3 hours, and a source clock 3 hours behind or ahead. The first answer
// of the capture is hours behind by MillisBehindLatest, so the capture looks
// again a minute before the server's now (that answer's arrival time plus
// MillisBehindLatest) instead of reading hours of the shard: a handful of
// GetRecords, and the shard's last record as the tip.
func TestTipCaptureLooksNearTheServersNow(t *testing.T) {
	for _, skew := range []time.Duration{-3 * time.Hour, 3 * time.Hour} {
		t.Run(fmt.Sprintf("skew %v", skew), func(t *testing.T) {
			sh := &fakeShard{id: "shardId-0"}
			api := newFake(sh)
			api.behindByArrival = true
			start := time.Now().Add(-3 * time.Hour)
			for i := range 5400 {
				at := start.Add(time.Duration(i) * 2 * time.Second)
				api.seq++
				sh.records = append(sh.records, types.Record{Data: []byte("r"), PartitionKey: aws.String("k"),
					SequenceNumber: aws.String(fmt.Sprintf("4959%032d", api.seq)), ApproximateArrivalTimestamp: &at})
			}
			src, err := New(t.Context(), Config{Stream: "s", Client: api, MaxRecordsPerCall: 100, StopAt: &StopAt{Tips: true}})
			if err != nil {
				t.Fatal(err)
			}
			src.clock = func() time.Time { return time.Now().Add(skew) }
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			tips, err := src.captureTips(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := *sh.records[len(sh.records)-1].SequenceNumber; tips.Open[sh.id] != want {
				t.Errorf("tip %q, want the last record %s", tips.Open[sh.id], want)
			}
			// One to tell an empty shard, up to four looks back (the fake
			// answers a future time with nothing), one far behind, then the
			// last minute and the confirming call; without the look near the
			// server's now, 54 calls of 100 from 3 hours back.
			if n := len(api.callsOf("GetRecords")); n > 8 {
				t.Errorf("%d GetRecords calls to find the tip, want a handful", n)
			}
			t.Logf("%d GetRecords, %d GetShardIterator", len(api.callsOf("GetRecords")), len(api.callsOf("GetShardIterator")))
		})
	}
}
