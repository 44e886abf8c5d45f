package jsonl

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.uber.org/goleak"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sinks/staging"
	"github.com/shardflow/shardflow/sinks/staging/stagingtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// deadLetters builds dead letters number [first, first+n).
func deadLetters(mem memory.Allocator, first, n int) *pipeline.Batch {
	d := pipeline.NewDeadLetterBuilder(mem, "kinesis")
	defer d.Release()
	for i := first; i < first+n; i++ {
		d.Append("shardId-000000000001", pipeline.Position{Seq: "4959" + strconv.Itoa(i), N: int64(i % 3)},
			errors.New("json: bad record "+strconv.Itoa(i)), []byte(`{"n":`+strconv.Itoa(i)))
	}
	return d.NewBatch("shardId-000000000001")
}

// readLines decodes the committed files of dir, in name order.
func readLines(t testing.TB, dir string) []map[string]any {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "part-*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var row map[string]any
			if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
				t.Fatalf("%s: %q: %v", name, sc.Text(), err)
			}
			rows = append(rows, row)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return rows
}

func newTestSink(t testing.TB, dir string, opts ...Option) *Sink {
	t.Helper()
	s, err := New(Config{Dir: dir}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Bind(pipeline.DeadLetterSchema); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCommitterSuite(t *testing.T) {
	stagingtest.RunCommitterSuite(t, func(t *testing.T) stagingtest.Harness {
		dir := filepath.Join(t.TempDir(), "dead_letters")
		return stagingtest.Harness{
			New: func(t *testing.T, fsys staging.FS) stagingtest.Subject {
				return newTestSink(t, dir, WithFS(fsys))
			},
			Batch:     deadLetters,
			Committed: func(t *testing.T) int { return len(readLines(t, dir)) },
			Root:      dir,
		}
	})
}

func TestDeadLetterLines(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	dir := t.TempDir()
	s := newTestSink(t, dir)
	if err := s.Recover(ctx, pipeline.Recovery{Job: "test", Run: "r1"}); err != nil {
		t.Fatal(err)
	}
	d := pipeline.NewDeadLetterBuilder(mem, "file")
	d.Append("events.jsonl", pipeline.OffsetPosition(120), errors.New(`json: unexpected "}"`), []byte("{\"a\":1}}\n"))
	d.Append("events.jsonl", pipeline.OffsetPosition(130), errors.New("not utf-8"), []byte{0xff, 0xfe, 'x'})
	b := d.NewBatch("events.jsonl")
	d.Release()
	if err := s.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	h, err := s.PreCommit(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, 3, h); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "part-r1-00000003-0000.jsonl")); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"source": "file", "shard": "events.jsonl", "position": "120", "error": `json: unexpected "}"`, "payload": "{\"a\":1}}\n"},
		{"source": "file", "shard": "events.jsonl", "position": "130", "error": "not utf-8", "payload_base64": "//54"},
	}
	if got := readLines(t, dir); !reflect.DeepEqual(got, want) {
		t.Fatalf("lines = %v\nwant %v", got, want)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestConfigAndBind(t *testing.T) {
	if _, err := New(Config{}); err == nil || !strings.Contains(err.Error(), "Dir is empty") {
		t.Fatalf("New(empty) = %v", err)
	}
	s, err := New(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	clash := arrow.NewSchema([]arrow.Field{
		{Name: "payload", Type: arrow.BinaryTypes.Binary}, {Name: "payload_base64", Type: arrow.BinaryTypes.String},
	}, nil)
	if err := s.Bind(clash); err == nil {
		t.Fatal("Bind accepted payload and payload_base64")
	}
	if err := s.Write(context.Background(), nil); err != ErrNotBound {
		t.Fatalf("Write before Bind = %v", err)
	}
}
