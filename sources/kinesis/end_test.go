package kinesis

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shardflow/shardflow/pipeline"
)

// readToEnd reads r until an error and returns the number of rows and the error.
func readToEnd(t *testing.T, r pipeline.ShardReader) (int, error) {
	t.Helper()
	n := 0
	for {
		b, err := r.Read(t.Context())
		if err != nil {
			return n, err
		}
		if b != nil {
			n += len(rows(t, b))
		}
	}
}

// TestEndOrBound: only a closed shard read to its end is finished
// (ErrShardEnd, recorded for ever in the checkpoint); a StopAt bound on a
// shard that goes on is ErrBoundReached, so that a later job reads on.
func TestEndOrBound(t *testing.T) {
	tests := []struct {
		name     string
		closed   bool
		stop     func(seqs []string, after time.Time) *StopAt
		wantRows int
		want     error
	}{
		{"open shard, bound at a plain record", false, func(s []string, _ time.Time) *StopAt {
			return &StopAt{Positions: map[string]pipeline.Position{"shardId-0": {Seq: s[2]}}}
		}, 7, pipeline.ErrBoundReached},
		{"closed shard, bound inside an aggregate", true, func(s []string, _ time.Time) *StopAt {
			return &StopAt{Positions: map[string]pipeline.Position{"shardId-0": {Seq: s[1], N: 1}}}
		}, 3, pipeline.ErrBoundReached},
		{"closed shard, bound before its last record", true, func(s []string, _ time.Time) *StopAt {
			return &StopAt{Positions: map[string]pipeline.Position{"shardId-0": {Seq: s[4]}}}
		}, 9, pipeline.ErrBoundReached},
		{"closed shard, bound at its last user record", true, func(s []string, _ time.Time) *StopAt {
			return &StopAt{Positions: map[string]pipeline.Position{"shardId-0": {Seq: s[5], N: 1}}}
		}, 11, pipeline.ErrShardEnd},
		{"open shard, caught up after StopAt.Time", false, func(_ []string, after time.Time) *StopAt {
			return &StopAt{Time: after}
		}, 11, pipeline.ErrBoundReached},
		{"closed shard drained before StopAt.Time", true, func(_ []string, after time.Time) *StopAt {
			return &StopAt{Time: after}
		}, 11, pipeline.ErrShardEnd},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sh := &fakeShard{id: "shardId-0", closed: tt.closed}
				api := newFake(sh)
				seqs := kplShard(t, api, sh)
				time.Sleep(time.Second)
				r := openReader(t, api, Config{StopAt: tt.stop(seqs, time.Now()), MaxRecordsPerCall: 2}, sh.id, pipeline.Position{})
				n, err := readToEnd(t, r)
				if !errors.Is(err, tt.want) || n != tt.wantRows {
					t.Fatalf("read %d rows, then %v; want %d rows, then %v", n, err, tt.wantRows, tt.want)
				}
				if _, err := r.Read(t.Context()); !errors.Is(err, tt.want) {
					t.Fatalf("Read after the end: %v, want %v", err, tt.want)
				}
			})
		})
	}
}
