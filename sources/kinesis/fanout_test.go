package kinesis

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/smithy-go/eventstream"

	"github.com/shardflow/shardflow/internal/testenv"
)

// initialResponseTransport prepends the initial-response event that
// kinesis-local leaves out of SubscribeToShard answers and the Go SDK waits
// for. Test-only: the real service sends it.
type initialResponseTransport struct {
	base  http.RoundTripper
	mu    sync.Mutex
	calls map[string]int // by X-Amz-Target operation
	// cut, when positive, breaks each of the first cutSubs subscriptions
	// after cut bytes of events, in the middle of an event.
	cut, cutSubs int
}

func (t *initialResponseTransport) count(op string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.calls["Kinesis_20131202."+op]
}

func (t *initialResponseTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.mu.Lock()
	t.calls[req.Header.Get("X-Amz-Target")]++
	t.mu.Unlock()
	resp, err := t.base.RoundTrip(req)
	if err != nil || req.Header.Get("X-Amz-Target") != "Kinesis_20131202.SubscribeToShard" || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	var msg eventstream.Message
	msg.Headers.Set(eventstream.MessageTypeHeader, eventstream.StringValue("event"))
	msg.Headers.Set(eventstream.EventTypeHeader, eventstream.StringValue("initial-response"))
	var buf bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&buf, msg); err != nil {
		resp.Body.Close()
		return nil, err
	}
	var events io.Reader = resp.Body
	t.mu.Lock()
	if t.cut > 0 && t.cutSubs > 0 {
		t.cutSubs--
		events = io.MultiReader(io.LimitReader(resp.Body, int64(t.cut)), errReader{io.ErrUnexpectedEOF})
	}
	t.mu.Unlock()
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(&buf, events), resp.Body}
	resp.ContentLength = -1
	return resp, nil
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// TestKinesisLocalFanOut reads a stream with enhanced fan-out and by polling
// and checks that both deliver the same rows at the same positions.
func TestKinesisLocalFanOut(t *testing.T) {
	srv := testenv.KinesisLocal(t)
	const stream = "fanout"
	testenv.CreateStream(t, srv.Client, stream, 2)
	w := &clickWriter{keys: 10}
	for r := range 20 {
		if err := putRound(t.Context(), srv.Client, stream, w.round(t, r)); err != nil {
			t.Fatal(err)
		}
	}
	stop := &StopAt{Time: time.Now()}

	base := http.DefaultTransport.(*http.Transport).Clone()
	defer base.CloseIdleConnections()
	tr := &initialResponseTransport{base: base, calls: map[string]int{}}
	client := srv.NewClient(tr)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	renewal := time.Duration(0)
	read := func(consumer string) []row {
		src, err := New(ctx, Config{Stream: stream, Client: client, Consumer: consumer, StopAt: stop,
			PollInterval: MinCallInterval, Mem: checkedMem(t)})
		if err != nil {
			t.Fatal(err)
		}
		if renewal > 0 {
			src.renewal = renewal
		}
		job := &readJob{}
		job.run(ctx, t, src)
		if ctx.Err() != nil {
			t.Fatalf("consumer %q: the bounded read did not end", consumer)
		}
		checkClicks(t, job.rows, w)
		byShard := slices.Clone(job.rows)
		slices.SortStableFunc(byShard, func(a, b row) int { return strings.Compare(a.Shard, b.Shard) })
		return byShard
	}
	polled := read("")
	gets := tr.count("GetRecords")
	fannedOut := read("shardflow-test")
	if n := tr.count("GetRecords"); n != gets {
		t.Errorf("the fan-out read made %d GetRecords calls", n-gets)
	}
	if n := tr.count("SubscribeToShard"); n < 2 {
		t.Errorf("%d SubscribeToShard calls, want at least one per shard", n)
	}
	t.Logf("%d rows; %d GetRecords calls polling, %d SubscribeToShard calls", len(polled), gets, tr.count("SubscribeToShard"))

	// Subscriptions that break in the middle of an event are resumed after
	// the last record read.
	subs := tr.count("SubscribeToShard")
	tr.mu.Lock()
	tr.cut, tr.cutSubs = 700, 4
	tr.mu.Unlock()
	if broken := read("shardflow-test"); !slices.Equal(polled, broken) {
		t.Fatalf("fan-out with broken subscriptions read %d rows, polling %d; they differ", len(broken), len(polled))
	}
	if n := tr.count("SubscribeToShard") - subs; n < 6 {
		t.Errorf("%d SubscribeToShard calls with 4 broken subscriptions, want at least 6", n)
	}
	// Subscriptions renewed every 2 seconds read the same rows.
	tr.mu.Lock()
	tr.cut, tr.cutSubs = 0, 0
	tr.mu.Unlock()
	renewal, subs = 2*time.Second, tr.count("SubscribeToShard")
	if renewed := read("shardflow-test"); !slices.Equal(polled, renewed) {
		t.Fatalf("fan-out with renewed subscriptions read %d rows, polling %d; they differ", len(renewed), len(polled))
	}
	t.Logf("%d SubscribeToShard calls with renewals", tr.count("SubscribeToShard")-subs)
	if !slices.Equal(polled, fannedOut) {
		t.Fatalf("fan-out read %d rows, polling %d; they differ", len(fannedOut), len(polled))
	}
}
