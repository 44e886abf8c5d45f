package kinesis

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shardflow/shardflow/pipeline"
)

// TestFanOutRenewsBeforeTheEnd: while records arrive all the time, a fan-out
// reader renews its subscription at 4m30s, before the service ends it at 5
// minutes, from the continuation of the last event it took: the next
// subscription takes over, and the rows stay in order with nothing lost or
// repeated across the switch.
func TestFanOutRenewsBeforeTheEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sh := &fakeShard{id: "shardId-0"}
		api := &fakeFanOut{fakeAPI: newFake(sh)}
		writeCtx, stopWriting := context.WithTimeout(t.Context(), 12*time.Minute)
		defer stopWriting()
		written := make(chan []string)
		go func() {
			var seqs []string
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-writeCtx.Done():
					written <- seqs
					return
				case <-tick.C:
				}
				seqs = append(seqs, api.put(sh, "k", payloads(1, 8)...)...)
			}
		}()
		r := openReader(t, api, Config{Consumer: "c"}, sh.id, pipeline.Position{})
		var got []string
		var want []string
		for want == nil || len(got) < len(want) {
			select {
			case want = <-written:
			default:
			}
			b, err := r.Read(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if b != nil {
				for _, row := range rows(t, b) {
					got = append(got, row.Pos.Seq)
				}
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("read %d records, wrote %d; not the same in order", len(got), len(want))
		}
		r.Close()
		api.smu.Lock()
		subs := slices.Clone(api.subs)
		api.smu.Unlock()
		if len(subs) != 3 {
			t.Errorf("%d subscriptions in 12 minutes, want 3 (renewed every 4m30s)", len(subs))
		}
		for i, s := range subs {
			<-s.finished // no goroutine of a subscription outlives Close
			if s.endedByServer {
				t.Errorf("subscription %d ran to its 5-minute end at %v", i, s.end.Sub(s.started))
			}
			if i < len(subs)-1 {
				if age := s.takenOverAt.Sub(s.started); age < 4*time.Minute || age >= 5*time.Minute {
					t.Errorf("subscription %d renewed after %v, want in [4m, 5m)", i, age)
				}
			}
		}
	})
}

// TestFanOutSubscribeHonoursContext: SubscribeToShard blocks on a server that
// does not answer; Read returns when its context ends, and a single call ends
// after CallTimeout (and is retried).
func TestFanOutSubscribeHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sh := &fakeShard{id: "shardId-0"}
		api := &fakeFanOut{fakeAPI: newFake(sh)}
		calls := 0
		api.subscribe = func(ctx context.Context) error {
			calls++
			<-ctx.Done()
			return ctx.Err()
		}
		m := &countMetrics{}
		r := openReader(t, api, Config{Consumer: "c", CallTimeout: 3 * time.Second, Metrics: m}, sh.id, pipeline.Position{})
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := r.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Read = %v, want the context's end", err)
		}
		if d := time.Since(start); d != 100*time.Millisecond {
			t.Errorf("Read returned after %v, want when its context ended (100ms)", d)
		}
		ctx, cancel = context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		for ctx.Err() == nil {
			if _, err := r.Read(ctx); err != nil && ctx.Err() == nil {
				t.Fatal(err)
			}
		}
		if calls < 3 || m.retries < 2 {
			t.Errorf("%d subscribe calls, %d retries in 10s with a 3s call timeout", calls, m.retries)
		}
	})
}
