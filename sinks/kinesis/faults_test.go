package kinesis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/shardflow/shardflow/internal/testenv"
)

// putFaults wraps the real server's transport and injects PutRecords faults:
// per-record failures (the failed records are not forwarded, and failure
// entries are merged into the server's answer at their places), whole-call
// throttles, and connections that break after the server wrote the records.
type putFaults struct {
	base http.RoundTripper

	mu         sync.Mutex
	rng        *rand.Rand
	recordRate float64 // share of records failed
	throttle   float64 // share of calls throttled as a whole
	drop       float64 // share of calls whose answer is lost
	failed     int
	throttled  int
	dropped    int // records in calls whose answer was lost
}

func (f *putFaults) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("X-Amz-Target") != "Kinesis_20131202.PutRecords" {
		return f.base.RoundTrip(req)
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	var in map[string]json.RawMessage
	var recs []json.RawMessage
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(in["Records"], &recs); err != nil {
		return nil, err
	}
	f.mu.Lock()
	throttle, drop := f.rng.Float64() < f.throttle, f.rng.Float64() < f.drop
	fail := make([]bool, len(recs))
	var kept []json.RawMessage
	for i := range recs {
		if fail[i] = !throttle && f.rng.Float64() < f.recordRate; fail[i] {
			f.failed++
		} else {
			kept = append(kept, recs[i])
		}
	}
	if throttle {
		f.throttled++
	}
	f.mu.Unlock()
	if throttle {
		return jsonResponse(req, http.StatusBadRequest, `{"__type":"ProvisionedThroughputExceededException","message":"injected"}`), nil
	}

	var answers []json.RawMessage
	if len(kept) > 0 {
		in["Records"], _ = json.Marshal(kept)
		nb, _ := json.Marshal(in)
		fwd := req.Clone(req.Context())
		fwd.Body, fwd.ContentLength = io.NopCloser(bytes.NewReader(nb)), int64(len(nb))
		fwd.Header.Set("Content-Length", fmt.Sprint(len(nb)))
		resp, err := f.base.RoundTrip(fwd)
		if err != nil {
			return nil, err
		}
		rb, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return jsonResponse(req, resp.StatusCode, string(rb)), nil
		}
		var out struct{ Records []json.RawMessage }
		if err := json.Unmarshal(rb, &out); err != nil {
			return nil, err
		}
		answers = out.Records
		if drop {
			f.mu.Lock()
			f.dropped += len(kept)
			f.mu.Unlock()
			return nil, io.ErrUnexpectedEOF
		}
	}
	var merged []string
	failed := 0
	for i := range recs {
		if fail[i] {
			failed++
			code := []string{"ProvisionedThroughputExceededException", "InternalFailure"}[i%2]
			merged = append(merged, fmt.Sprintf(`{"ErrorCode":%q,"ErrorMessage":"injected"}`, code))
			continue
		}
		merged = append(merged, string(answers[0]))
		answers = answers[1:]
	}
	return jsonResponse(req, http.StatusOK, fmt.Sprintf(`{"FailedRecordCount":%d,"Records":[%s]}`, failed, strings.Join(merged, ","))), nil
}

func jsonResponse(req *http.Request, status int, body string) *http.Response {
	return &http.Response{
		Status: http.StatusText(status), StatusCode: status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{
			"Content-Type":     {"application/x-amz-json-1.1"},
			"X-Amzn-Requestid": {"injected"},
			"Content-Length":   {fmt.Sprint(len(body))},
		},
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: req,
	}
}

// TestIntegrationFaults writes through injected partial failures, throttles
// and lost answers to kinesalite and reads the stream back with the SDK.
func TestIntegrationFaults(t *testing.T) {
	srv := testenv.Kinesalite(t)
	for _, tc := range []struct {
		name      string
		aggregate bool
		faults    *putFaults
	}{
		{"partial failures", false, &putFaults{recordRate: 0.2}},
		{"partial failures aggregated", true, &putFaults{recordRate: 0.3}},
		{"throttled calls", false, &putFaults{throttle: 0.3, recordRate: 0.05}},
		{"lost answers", false, &putFaults{drop: 0.2}},
		{"lost answers aggregated", true, &putFaults{drop: 0.3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stream := strings.ReplaceAll(tc.name, " ", "-")
			testenv.CreateStream(t, srv.Client, stream, 2)
			f := tc.faults
			f.base, f.rng = http.DefaultTransport.(*http.Transport).Clone(), rand.New(rand.NewPCG(3, 4))
			client := srv.NewClient(f)
			s := &recordedSleep{}
			p, err := NewProducer(ProducerConfig{Stream: stream, Client: client, Aggregate: tc.aggregate, MaxAggregateBytes: 8192, MaxAttempts: 30}, WithSleep(s.sleep))
			if err != nil {
				t.Fatal(err)
			}
			want := putAll(t, p, 3000, 100, 60)
			got := readStream(t, srv.Client, stream)
			st := p.Stats()
			if f.dropped == 0 {
				checkRecords(t, want, got, true, nil)
			} else {
				// at least once: every record arrives, and the extra copies
				// are no more than the records of the calls whose answer was lost
				seen := map[string]int{}
				for _, r := range got {
					seen[r.data]++
				}
				for _, r := range want {
					if seen[r.data] == 0 {
						t.Fatalf("record %q lost", r.data)
					}
				}
				if extra := len(got) - len(want); extra == 0 || extra > f.dropped*max(1, len(want)/int(st.KinesisRecords)+1) {
					t.Fatalf("%d extra copies for %d records in lost answers", extra, f.dropped)
				}
			}
			if f.failed+f.throttled+f.dropped == 0 || len(s.pauses) == 0 {
				t.Fatalf("no fault injected: %+v", f)
			}
			if f.throttle == 0 && f.drop == 0 && st.Retries != int64(f.failed) || st.Retries < int64(f.failed) {
				t.Fatalf("retries %d, failed records %d", st.Retries, f.failed)
			}
			if st.Throttles < int64(f.throttled) {
				t.Fatalf("throttles %d, throttled calls %d", st.Throttles, f.throttled)
			}
			t.Logf("failed records %d, throttled calls %d, records in lost answers %d; producer: %+v; read %d for %d put",
				f.failed, f.throttled, f.dropped, st, len(got), len(want))
		})
	}
}
