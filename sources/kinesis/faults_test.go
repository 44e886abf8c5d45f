package kinesis

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardflow/shardflow/internal/kinesiserr"
	"github.com/shardflow/shardflow/internal/testenv"
)

// faultTransport sits between the real SDK client and the real server and
// answers some GetRecords calls with a fault instead: plan(n) for the n-th
// GetRecords call (from 1) returns "" to pass the call through, an error code
// to answer with (400 for client errors, 500 for InternalFailureException),
// or "drop" to forward the call and lose the server's answer.
type faultTransport struct {
	base http.RoundTripper
	plan func(n int) string

	mu       sync.Mutex
	n        int
	injected map[string]int
}

func (f *faultTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("X-Amz-Target") != "Kinesis_20131202.GetRecords" {
		return f.base.RoundTrip(req)
	}
	f.mu.Lock()
	f.n++
	fault := f.plan(f.n)
	if fault != "" {
		f.injected[fault]++
	}
	f.mu.Unlock()
	switch fault {
	case "":
		return f.base.RoundTrip(req)
	case "drop":
		resp, err := f.base.RoundTrip(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return nil, io.ErrUnexpectedEOF
	}
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	status := http.StatusBadRequest
	if fault == kinesiserr.InternalFailureException {
		status = http.StatusInternalServerError
	}
	body := fmt.Sprintf(`{"__type":"%s","message":"injected by the test"}`, fault)
	return &http.Response{
		Status: http.StatusText(status), StatusCode: status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{
			"Content-Type":     {"application/x-amz-json-1.1"},
			"X-Amzn-Errortype": {fault},
			"X-Amzn-Requestid": {"injected"},
			"Content-Length":   {fmt.Sprint(len(body))},
		},
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: req,
	}, nil
}

// TestKinesaliteFaults reads a stream through a client whose GetRecords calls
// are throttled, expire, fail inside the service and lose their answers, and
// checks that nothing is lost or repeated.
func TestKinesaliteFaults(t *testing.T) {
	srv := testenv.Kinesalite(t)
	const stream = "faulty"
	testenv.CreateStream(t, srv.Client, stream, 2)
	w := &clickWriter{keys: 20}
	for r := range 50 {
		if err := putRound(t.Context(), srv.Client, stream, w.round(t, r)); err != nil {
			t.Fatal(err)
		}
	}
	writtenAt := time.Now()

	base := http.DefaultTransport.(*http.Transport).Clone()
	defer base.CloseIdleConnections()
	ft := &faultTransport{base: base, injected: map[string]int{}, plan: func(n int) string {
		switch {
		case n%4 == 1:
			return kinesiserr.ThroughputExceeded
		case n%9 == 0:
			return kinesiserr.ExpiredIterator
		case n%13 == 0:
			return kinesiserr.InternalFailureException
		case n%11 == 0:
			return "drop"
		case n%7 == 0:
			return kinesiserr.LimitExceeded
		}
		return ""
	}}
	client := srv.NewClient(ft)
	m := &countMetrics{}
	src, err := New(t.Context(), Config{
		Stream: stream, Client: client, MaxRecordsPerCall: 60, PollInterval: MinCallInterval, StopAt: &StopAt{Time: writtenAt},
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Metrics: m, Mem: checkedMem(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	job := &readJob{}
	job.run(ctx, t, src)
	if ctx.Err() != nil {
		t.Fatal("the bounded read did not end")
	}
	checkClicks(t, job.rows, w)
	t.Logf("injected %v over %d GetRecords calls; metrics: %d throttles, %d retries", ft.injected, ft.n, m.throttles, m.retries)
	for _, code := range []string{kinesiserr.ThroughputExceeded, kinesiserr.ExpiredIterator, kinesiserr.InternalFailureException, "drop", kinesiserr.LimitExceeded} {
		if ft.injected[code] == 0 {
			t.Errorf("no %s injected; make the stream longer", code)
		}
	}
	wantThrottles := ft.injected[kinesiserr.ThroughputExceeded] + ft.injected[kinesiserr.LimitExceeded]
	total := 0
	for _, n := range ft.injected {
		total += n
	}
	if m.throttles != wantThrottles || m.retries != total {
		t.Errorf("metrics: %d throttles, %d retries; want %d, %d", m.throttles, m.retries, wantThrottles, total)
	}
}
