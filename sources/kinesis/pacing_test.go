package kinesis

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardflow/shardflow/pipeline"
)

// checkGaps fails t when two GetRecords calls are closer than MinCallInterval.
func checkGaps(t *testing.T, api *fakeAPI) {
	t.Helper()
	calls := api.callsOf("GetRecords")
	for i := 1; i < len(calls); i++ {
		if gap := calls[i].at.Sub(calls[i-1].at); gap < MinCallInterval {
			t.Errorf("GetRecords calls %d and %d %v apart, want >= %v", i-1, i, gap, MinCallInterval)
		}
	}
}

// TestPacingAcrossRenewals: a GetRecords call rejected with
// ExpiredIteratorException counts against the 5 calls/s, so the call after
// the renewal waits its turn instead of following at once.
func TestPacingAcrossRenewals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sh := &fakeShard{id: "shardId-0", closed: true}
		api := newFake(sh)
		want := api.put(sh, "k", payloads(100, 10)...)
		api.fail = func(op string, n int) error {
			if op == "GetRecords" && n%3 == 0 {
				return &types.ExpiredIteratorException{Message: aws.String("Iterator expired")}
			}
			return nil
		}
		r := openReader(t, api, Config{MaxRecordsPerCall: 10}, sh.id, pipeline.Position{})
		if got := drain(t.Context(), t, r, nil); len(got) != len(want) {
			t.Fatalf("read %d records, want %d", len(got), len(want))
		}
		checkGaps(t, api)
	})
}

// TestPacingAfterLargeAnswer: the read budget of a large answer runs from its
// arrival, not from the call's start: after a 10 MiB answer that took 2 s to
// arrive, the next call waits 5 s more (the service throttles calls in the 5 s
// after a 10 MB answer). Partition keys count too.
func TestPacingAfterLargeAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sh := &fakeShard{id: "shardId-0"}
		api := newFake(sh)
		api.put(sh, "k", payloads(20, 1<<20)...)
		api.fail = func(op string, n int) error {
			if op == "GetRecords" && n == 1 {
				time.Sleep(2 * time.Second) // a slow transfer
			}
			return nil
		}
		r := openReader(t, api, Config{MaxRecordsPerCall: 10}, sh.id, pipeline.Position{})
		drain(t.Context(), t, r, func(got []row) bool { return len(got) >= 20 })
		calls := api.callsOf("GetRecords")
		if len(calls) < 2 {
			t.Fatalf("%d calls", len(calls))
		}
		answered := calls[0].at.Add(2 * time.Second)
		if next := calls[1].at.Sub(answered); next < 5*time.Second {
			t.Errorf("next call %v after a 10 MiB answer arrived, want >= 5s", next)
		}
		checkGaps(t, api)
	})
}
