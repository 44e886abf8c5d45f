package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/shardflow/shardflow/pipeline"
)

// manyShards is progress long enough to overflow any terminal.
func manyShards(n int) pipeline.Stats {
	st := pipeline.Stats{RecordsIn: 1_234_567, Watermark: pipeline.MinTime, LastCheckpoint: 12}
	for i := range n {
		st.Shards = append(st.Shards, pipeline.ShardProgress{Shard: fmt.Sprintf("shardId-%012d", i), Records: 123_456})
	}
	return st
}

func TestStatusLineNeverWraps(t *testing.T) {
	for _, width := range []int{200, 80, 40, 2, 1, 0} {
		line := statusLine(manyShards(16), 1000, width)
		if n := utf8.RuneCountInString(line); n > max(width-1, 1) || !strings.HasSuffix(line, "…") {
			t.Errorf("width %d: %d runes, want at most %d ending in …: %q", width, n, max(width-1, 1), line)
		}
	}
	if line := statusLine(manyShards(1), 1000, 200); strings.HasSuffix(line, "…") || !strings.HasSuffix(line, "000000 123,456") {
		t.Errorf("a line that fits was cut: %q", line)
	}
}

func TestTermWidthWithoutATerminal(t *testing.T) {
	if w := termWidth(&bytes.Buffer{}); w != 80 {
		t.Errorf("termWidth of a buffer = %d, want 80", w)
	}
}
