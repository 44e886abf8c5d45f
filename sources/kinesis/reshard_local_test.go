package kinesis

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardflow/shardflow/internal/testenv"
)

// TestKinesisLocalUpdateShardCount writes a stream while UpdateShardCount
// doubles its shards (kinesalite has no UpdateShardCount), then reads it
// bounded by polling and with enhanced fan-out: per-key order holds across
// parents and children, nothing is lost or repeated.
func TestKinesisLocalUpdateShardCount(t *testing.T) {
	srv := testenv.KinesisLocal(t)
	c := srv.Client
	const stream = "rescale"
	testenv.CreateStream(t, c, stream, 2)
	w := &clickWriter{keys: 10}
	const rounds = 30
	for r := range rounds {
		if r == rounds/2 {
			if _, err := c.UpdateShardCount(t.Context(), &kinesis.UpdateShardCountInput{StreamName: aws.String(stream),
				TargetShardCount: aws.Int32(4), ScalingType: types.ScalingTypeUniformScaling}); err != nil {
				t.Fatalf("update shard count: %v", err)
			}
		}
		if err := putRound(t.Context(), c, stream, w.round(t, r)); err != nil {
			t.Fatalf("round %d: %v", r, err)
		}
	}
	testenv.WaitActive(t, c, stream)
	stop := &StopAt{Time: time.Now()}

	base := http.DefaultTransport.(*http.Transport).Clone()
	defer base.CloseIdleConnections()
	client := srv.NewClient(&initialResponseTransport{base: base, calls: map[string]int{}})
	for _, consumer := range []string{"", "rescale-reader"} {
		t.Run(fmt.Sprintf("consumer=%q", consumer), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			src, err := New(ctx, Config{Stream: stream, Client: client, Consumer: consumer, StopAt: stop,
				PollInterval: MinCallInterval, Mem: checkedMem(t)})
			if err != nil {
				t.Fatal(err)
			}
			shards, err := src.Shards(ctx)
			if err != nil {
				t.Fatal(err)
			}
			job := &readJob{}
			job.run(ctx, t, src)
			if ctx.Err() != nil {
				t.Fatal("the bounded read did not end")
			}
			checkClicks(t, job.rows, w)
			perShard := map[string]int{}
			for _, r := range job.rows {
				perShard[r.Shard]++
			}
			t.Logf("rows per shard: %v", perShard)
			if len(perShard) < 4 {
				t.Errorf("records in %d shards, want parents and children", len(perShard))
			}
			if len(job.ended) != len(shards) || len(shards) < 4 {
				t.Errorf("%d of %d shards ended: %v", len(job.ended), len(shards), shards)
			}
		})
	}
}
