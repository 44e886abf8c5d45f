package kinesis

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/pipeline"
)

// A shard that would start at a time the stream no longer retains is
// refused, naming the oldest time retained, instead of starting silently at
// the oldest record; a start within the retention, a shard with a
// checkpoint and a child opened at its beginning are not affected.
func TestStartOlderThanRetentionIsRefused(t *testing.T) {
	srv := testenv.Kinesalite(t)
	testenv.CreateStream(t, srv.Client, "kept", 1)
	open := func(start time.Time, after pipeline.Position) error {
		src, err := New(t.Context(), Config{Stream: "kept", Client: srv.Client, Start: "at_timestamp:" + start.Format(time.RFC3339)})
		if err != nil {
			t.Fatal(err)
		}
		shards, err := src.Shards(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		r, err := src.OpenShard(t.Context(), shards[0], after)
		if err == nil {
			r.Close()
		}
		return err
	}
	old := time.Now().Add(-25 * time.Hour)
	err := open(old, pipeline.Position{})
	if !errors.Is(err, ErrExpired) || !strings.Contains(err.Error(), "older than what stream kept retains (24 hours): its oldest records are from about "+time.Now().Add(-24*time.Hour).UTC().Format("2006-01-02T15")) {
		t.Fatalf("start 25 h ago on a 24 h stream: %v, want ErrExpired naming the oldest time", err)
	}
	for name, c := range map[string]struct {
		start time.Time
		after pipeline.Position
	}{
		"within":     {time.Now().Add(-23 * time.Hour), pipeline.Position{}},
		"checkpoint": {old, pipeline.Position{Seq: "49590338271490256608559692538361571095921575989136588898", N: 3}},
		"child":      {old, pipeline.Earliest},
	} {
		if err := open(c.start, c.after); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
