package file_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/file"
)

// An overlong line never reaches the decoder: it is a dead letter holding
// its first bytes, at the position past its newline, after the records
// before it and before the ones after it.
func TestOverlongLineIsDeadLettered(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	const limit = 100 << 10
	long := `{"ok":true}` + strings.Repeat(" ", 2*limit) + "more\r"
	content := "{\"a\":1}\n" + long + "\n{\"a\":2}\n"
	path, _, r := openFileShard(t, content, file.Config{MaxLineBytes: limit, Mem: mem})
	defer r.Close()
	var got []string
	for {
		b, err := r.Read(t.Context())
		if pipeline.ReadEnded(err) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if b.Side == pipeline.DeadLetterSide {
			payload := b.Rec.Column(4).(*array.Binary).Value(0)
			if b.Len() != 1 || b.Rec.Column(0).(*array.String).Value(0) != "file" || b.Rec.Column(1).(*array.String).Value(0) != path ||
				string(payload) != long[:64<<10] || b.Last.N != int64(8+len(long)+1) {
				t.Errorf("dead letter: %d rows, source %q, shard %q, payload of %d bytes, last %v",
					b.Len(), b.Rec.Column(0).(*array.String).Value(0), b.Rec.Column(1).(*array.String).Value(0), len(payload), b.Last)
			}
		}
		l, p := rows(t, b)
		got = append(got, fmt.Sprint(l, p))
	}
	want := []string{
		`[{"a":1}] [8]`,
		fmt.Sprintf("[dead: line of %d bytes is longer than the limit of %d bytes (MaxLineBytes)] [%d]", len(long), limit, 8+len(long)+1),
		fmt.Sprintf(`[{"a":2}] [%d]`, len(content)),
	}
	if !slices.Equal(got, want) {
		t.Errorf("batches\n%q\nwant\n%q", got, want)
	}
}

// The carriage return of a CRLF line does not count against MaxLineBytes,
// also when the line spans reads and its newline comes in a later write.
func TestCRLFLineOfTheLimitIsARecord(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	const limit = 100 << 10
	line := strings.Repeat("x", limit)
	path, _, r := openFileShard(t, line+"\r", file.Config{MaxLineBytes: limit, Follow: true, PollInterval: time.Millisecond, Mem: mem})
	defer r.Close()
	if b, err := r.Read(t.Context()); b != nil || err != nil {
		t.Fatalf("Read before the newline = %v, %v; want nil, nil", b, err)
	}
	appendTo(t, path, "\n{}\n")
	lines, pos := nextBatch(t, r)
	if want := fmt.Sprint([]string{line, "{}"}, []int64{limit + 2, limit + 5}); fmt.Sprint(lines, pos) != want {
		t.Errorf("got %d lines at %v, want the line of %d bytes and {} at [%d %d]", len(lines), pos, limit, limit+2, limit+5)
	}
}
