package kinesis

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/shardflow/shardflow/internal/kpl"
	"github.com/shardflow/shardflow/pipeline"
)

// aggregate packs user records "key:data" into one KPL aggregate.
func aggregate(t testing.TB, recs ...string) []byte {
	t.Helper()
	a, err := kpl.NewAggregator(0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		key, data, _ := strings.Cut(r, ":")
		if full, err := a.Add(key, []byte(data)); err != nil || full != nil {
			t.Fatalf("aggregate: %v %v", full, err)
		}
	}
	return a.Flush().Data
}

// kplShard holds: plain p0, aggregate A (a0..a4), plain p2, a corrupt
// aggregate, plain p4, aggregate B (b0, b1). It returns the sequence numbers
// of the six Kinesis records.
func kplShard(t testing.TB, f *fakeAPI, sh *fakeShard) []string {
	corrupt := aggregate(t, "k:c0", "k:c1")
	corrupt[len(corrupt)-1] ^= 0xFF // break the MD5
	var seqs []string
	seqs = append(seqs, f.put(sh, "k", []byte("p0"))...)
	seqs = append(seqs, f.put(sh, "k", aggregate(t, "k:a0", "j:a1", "k:a2", "j:a3", "k:a4"))...)
	seqs = append(seqs, f.put(sh, "k", []byte("p2"))...)
	seqs = append(seqs, f.put(sh, "k", corrupt)...)
	seqs = append(seqs, f.put(sh, "k", []byte("p4"))...)
	seqs = append(seqs, f.put(sh, "k", aggregate(t, "k:b0", "k:b1"))...)
	return seqs
}

// render shows rows as "data@pos" and dead letters as "DEAD@pos", one batch
// per group: batches are separated by "|".
func render(t testing.TB, r pipeline.ShardReader) string {
	t.Helper()
	var parts []string
	for {
		b, err := r.Read(t.Context())
		if errors.Is(err, pipeline.ErrShardEnd) || errors.Is(err, pipeline.ErrBoundReached) {
			return strings.Join(parts, " | ")
		}
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			continue
		}
		var cells []string
		for _, row := range rows(t, b) {
			name := row.Data
			if row.Dead != "" {
				name = "DEAD"
				if !strings.Contains(row.Dead, ErrCorruptAggregate.Error()) {
					t.Errorf("dead letter error %q", row.Dead)
				}
			}
			cells = append(cells, fmt.Sprintf("%s@%s", name, shortPos(row.Pos)))
		}
		parts = append(parts, strings.Join(cells, " "))
	}
}

// shortPos renders a position with the sequence number's last two digits.
func shortPos(p pipeline.Position) string {
	return fmt.Sprintf("%s/%d", p.Seq[len(p.Seq)-2:], p.N)
}

func TestKPLPositions(t *testing.T) {
	tests := []struct {
		name  string
		after func(seqs []string) pipeline.Position
		want  string
	}{
		{"from the start", func([]string) pipeline.Position { return pipeline.Position{} },
			"p0@01/0 a0@02/0 a1@02/1 a2@02/2 a3@02/3 a4@02/4 p2@03/0 | DEAD@04/0 | p4@05/0 b0@06/0 b1@06/1"},
		{"after a plain record", func(s []string) pipeline.Position { return pipeline.Position{Seq: s[0]} },
			"a0@02/0 a1@02/1 a2@02/2 a3@02/3 a4@02/4 p2@03/0 | DEAD@04/0 | p4@05/0 b0@06/0 b1@06/1"},
		{"after the first user record of an aggregate", func(s []string) pipeline.Position { return pipeline.Position{Seq: s[1]} },
			"a1@02/1 a2@02/2 a3@02/3 a4@02/4 p2@03/0 | DEAD@04/0 | p4@05/0 b0@06/0 b1@06/1"},
		{"inside an aggregate", func(s []string) pipeline.Position { return pipeline.Position{Seq: s[1], N: 2} },
			"a3@02/3 a4@02/4 p2@03/0 | DEAD@04/0 | p4@05/0 b0@06/0 b1@06/1"},
		{"after a whole aggregate", func(s []string) pipeline.Position { return pipeline.Position{Seq: s[1], N: 4} },
			"p2@03/0 | DEAD@04/0 | p4@05/0 b0@06/0 b1@06/1"},
		{"after a dead letter", func(s []string) pipeline.Position { return pipeline.Position{Seq: s[3]} },
			"p4@05/0 b0@06/0 b1@06/1"},
		{"after the last record", func(s []string) pipeline.Position { return pipeline.Position{Seq: s[5], N: 1} },
			""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sh := &fakeShard{id: "shardId-0", closed: true}
				api := newFake(sh)
				seqs := kplShard(t, api, sh)
				r := openReader(t, api, Config{}, sh.id, tt.after(seqs))
				if got := render(t, r); got != tt.want {
					t.Errorf("got  %s\nwant %s", got, tt.want)
				}
			})
		})
	}
}

// TestKPLResumeEverywhere restarts after every position a reader handed out,
// with small GetRecords answers, and checks that the rest is read exactly once.
func TestKPLResumeEverywhere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sh := &fakeShard{id: "shardId-0", closed: true}
		api := newFake(sh)
		kplShard(t, api, sh)
		all := drain(t.Context(), t, openReader(t, api, Config{MaxRecordsPerCall: 1}, sh.id, pipeline.Position{}), nil)
		if len(all) != 11 {
			t.Fatalf("%d rows, want 11", len(all))
		}
		for i, at := range all {
			rest := drain(t.Context(), t, openReader(t, api, Config{MaxRecordsPerCall: 2}, sh.id, at.Pos), nil)
			if !slices.Equal(rest, all[i+1:]) {
				t.Errorf("after %v: got %v, want %v", at.Pos, rest, all[i+1:])
			}
		}
	})
}

func TestStopAt(t *testing.T) {
	tests := []struct {
		name  string
		bound func(seqs []string) pipeline.Position
		want  string
	}{
		{"at a plain record", func(s []string) pipeline.Position { return pipeline.Position{Seq: s[2]} },
			"p0@01/0 a0@02/0 a1@02/1 a2@02/2 a3@02/3 a4@02/4 p2@03/0"},
		{"inside an aggregate", func(s []string) pipeline.Position { return pipeline.Position{Seq: s[1], N: 1} },
			"p0@01/0 a0@02/0 a1@02/1"},
		{"at the last record", func(s []string) pipeline.Position { return pipeline.Position{Seq: s[5], N: 1} },
			"p0@01/0 a0@02/0 a1@02/1 a2@02/2 a3@02/3 a4@02/4 p2@03/0 | DEAD@04/0 | p4@05/0 b0@06/0 b1@06/1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sh := &fakeShard{id: "shardId-0"} // open: only the bound ends it
				api := newFake(sh)
				seqs := kplShard(t, api, sh)
				stop := &StopAt{Positions: map[string]pipeline.Position{sh.id: tt.bound(seqs)}}
				r := openReader(t, api, Config{StopAt: stop}, sh.id, pipeline.Position{})
				if got := render(t, r); got != tt.want {
					t.Errorf("got  %s\nwant %s", got, tt.want)
				}
			})
		})
	}
}
