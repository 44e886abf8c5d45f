package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/shardflow/shardflow/sources/generator"
)

// Both engines give the same rows on a few thousand events, in both modes.
func TestSameResult(t *testing.T) {
	mem := memory.DefaultAllocator
	d, err := newData(generator.Config{Shards: 3, Events: 5000, Seed: 7, BatchSize: 250, EventInterval: 50 * time.Millisecond}, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer d.release()
	if err := d.decode(mem); err != nil {
		t.Fatal(err)
	}
	events, err := d.eventItems()
	if err != nil {
		t.Fatal(err)
	}
	gs := gsConfig{window: 10 * time.Millisecond, decoder: "goccy/go-json", parallelism: 2, sourceBuffer: 16}
	for _, decoded := range []bool{true, false} {
		want, err := runShardflow(context.Background(), d, decoded, true, mem)
		if err != nil {
			t.Fatal(err)
		}
		items := events
		if !decoded {
			items = d.lineItems()
		}
		got, err := runGoStreams(items, !decoded, true, gs)
		if err != nil {
			t.Fatal(err)
		}
		if len(want) < 10 || sum(want) != 5000 {
			t.Fatalf("decoded=%v: %d rows, %d events, want >= 10 rows and 5000 events", decoded, len(want), sum(want))
		}
		if df := diff(want, got); df != "" {
			t.Errorf("decoded=%v: results differ:\n%s", decoded, df)
		}
	}
}

func TestRunPrintsBothModes(t *testing.T) {
	var out bytes.Buffer
	o := options{events: 3000, shards: 2, batch: 500, seed: 1, reps: 1, distinct: true, modes: "decoded,json",
		gs: gsConfig{window: 10 * time.Millisecond, decoder: "goccy/go-json", parallelism: 1, sourceBuffer: 16}}
	if err := run(context.Background(), &out, o); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "results equal"); n != 2 {
		t.Errorf("%d modes reported equal results, want 2:\n%s", n, out.String())
	}
}
