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
	"github.com/apache/arrow-go/v18/arrow/array"
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
	if _, err := os.Stat(filepath.Join(dir, "part-00000003-0000.jsonl")); err != nil {
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

func TestEncodeTypes(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
		{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String)},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).AppendNull()
	b.Field(1).(*array.Float64Builder).AppendValues([]float64{1.5}, nil)
	b.Field(2).(*array.BooleanBuilder).Append(true)
	b.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(1772402400123))
	lb := b.Field(4).(*array.ListBuilder)
	lb.Append(true)
	lb.ValueBuilder().(*array.StringBuilder).AppendValues([]string{"a", "b"}, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	line, err := appendRow(nil, newFields(schema), rec, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"i":null,"f":1.5,"ok":true,"ts":"2026-03-01T22:00:00.123Z","tags":["a","b"]}` + "\n"
	if string(line) != want {
		t.Fatalf("line = %s, want %s", line, want)
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{
		"", "plain", `quote " and \ backslash`, "tab\tnewline\ncr\r", "\x00\x1f\x7f",
		"<html>&amp;", "héllo wörld ✓", "\u2028\u2029", "bad \xff utf-8 \xc3", "emoji 😀",
	} {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString(nil, s); string(got) != string(want) {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("a\"b\\c\x00\xff\u2028")
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); string(got) != string(want) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
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
