package main

import (
	"strings"
	"testing"
	"time"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/kinesis"
)

func TestProgressLines(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add(100 * time.Second)
	st := pipeline.Stats{RecordsIn: 3000, Shards: []pipeline.ShardProgress{
		{Shard: "shardId-000000000000", Records: 1000, Finished: true},
		{Shard: "shardId-000000000001", Records: 1500},
		{Shard: "shardId-000000000002", Records: 500},
	}}
	loads := []kinesis.ShardLoad{
		{Shard: "shardId-000000000001", Until: from.Add(50 * time.Second)},
		{Shard: "shardId-000000000002", Until: from.Add(20 * time.Second)},
	}
	full := buildView(st, loads, &rangeClock{from: from, to: to}, 1234, 10*time.Second)
	// (1 + 0.5 + 0.2) / 3 = 0.5667 covered in 10s: 7.6s to go.
	if full.ETA != 8*time.Second {
		t.Fatalf("ETA = %s, want 8s", full.ETA)
	}
	unknown := buildView(st, loads[:1], &rangeClock{from: from, to: to}, 0, time.Second)
	cases := []struct {
		name  string
		v     progressView
		width int
		want  []string
	}{
		{"wide", full, 80, []string{
			"000000000000 [==============================] 100% 1,000 rec done",
			"000000000001 [===============               ]  50% 1,500 rec",
			"000000000002 [======                        ]  20% 500 rec",
			"total        [=================             ]  57% 3,000 rec 1,234 rec/s ETA 8s",
		}},
		{"narrow", full, 60, []string{
			"000000000000 [==========] 100% 1,000 rec done",
			"000000000001 [=====     ]  50% 1,500 rec",
			"000000000002 [==        ]  20% 500 rec",
			"total        [=====     ]  57% 3,000 rec 1,234 rec/s ETA 8s",
		}},
		{"too narrow for a bar", full, 30, []string{
			"000000000000 100% 1,000 rec …",
			"000000000001  50% 1,500 rec",
			"000000000002  20% 500 rec",
			"total         57% 3,000 rec …",
		}},
		{"a shard not yet placed", unknown, 70, []string{
			"000000000000 [=========================] 100% 1,000 rec done",
			"000000000001 [============             ]  50% 1,500 rec",
			"000000000002 [                         ]   ?% 500 rec",
			"total        [                         ]   ?% 3,000 rec 0 rec/s ETA ?",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := progressLines(c.v, c.width)
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
			for _, l := range got {
				if n := len([]rune(l)); n > c.width-1 {
					t.Errorf("%q is %d wide, over %d", l, n, c.width-1)
				}
			}
		})
	}
}

func TestProgressLogLine(t *testing.T) {
	v := progressView{Records: 12345, Rate: 2000.4, Covered: 0.25, ETA: 30 * time.Second, Elapsed: 10 * time.Second,
		Shards: []shardBar{{Done: true}, {}}}
	want := "replay:  25% of the range, 12,345 records, 2,000 records/s, ETA 30s, 1 of 2 shards done, 10s elapsed"
	if got := progressLogLine(v); got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestRangeClockTrimHorizon(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &rangeClock{to: t0.Add(40 * time.Second)}
	if got := c.share("a", t0); got != 0 {
		t.Fatalf("first sight = %v, want 0", got)
	}
	if got := c.share("a", t0.Add(10*time.Second)); got != 0.25 {
		t.Fatalf("share = %v, want 0.25", got)
	}
	if got := c.share("a", time.Time{}); got != -1 {
		t.Fatalf("no arrival yet = %v, want -1", got)
	}
}
