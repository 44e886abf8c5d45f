package file_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/pipeline/checkpoint"
	"github.com/shardflow/shardflow/sources/file"
)

// collectSink keeps the first column of the batches it is given.
type collectSink struct {
	name string
	mu   sync.Mutex
	rows []string
}

var _ pipeline.Sink = (*collectSink)(nil)

func (s *collectSink) Name() string                    { return s.name }
func (s *collectSink) Bind(*arrow.Schema) error        { return nil }
func (s *collectSink) Close(ctx context.Context) error { return nil }
func (s *collectSink) Write(ctx context.Context, b *pipeline.Batch) error {
	defer b.Release()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range b.Len() {
		switch c := b.Rec.Column(0).(type) {
		case *array.Binary: // raw records: the line
			s.rows = append(s.rows, string(c.Value(i)))
		case *array.String: // dead letters: the error
			s.rows = append(s.rows, b.Rec.Column(3).(*array.String).Value(i))
		}
	}
	return nil
}

// TestJobRunsOverAGrowingFile runs the real runtime three times over one
// file with one checkpoint store: the first run holds a partial line back and
// dead-letters an overlong one; the second reads what was appended, from the
// shard's position; the third is refused, the file having been rewritten
// with lines of the same lengths.
func TestJobRunsOverAGrowingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.jsonl")
	if err := os.WriteFile(path, []byte("{\"a\":1}\n"+strings.Repeat("x", 100)+"\n{\"a\":2}\n{\"a\""), 0o644); err != nil {
		t.Fatal(err)
	}
	store := checkpoint.NewMemory()
	run := func() (main, dead []string, err error) {
		src, err := file.New(file.Config{Glob: path, MaxLineBytes: testMaxLine})
		if err != nil {
			t.Fatal(err)
		}
		mainSink, deadSink := &collectSink{name: "main"}, &collectSink{name: "dead"}
		job, err := pipeline.New("file-job").From(src).To(mainSink).DeadLetters(deadSink).Checkpoints(store, time.Hour).Build()
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		err = job.Run(ctx)
		return mainSink.rows, deadSink.rows, err
	}
	main, dead, err := run()
	if err != nil || fmt.Sprint(main) != `[{"a":1} {"a":2}]` ||
		fmt.Sprint(dead) != "[line of 100 bytes is longer than the limit of 64 bytes (MaxLineBytes)]" {
		t.Fatalf("first run: %q, dead letters %q, %v", main, dead, err)
	}
	appendTo(t, path, ":3}\n{\"a\":4}\n")
	if main, dead, err = run(); err != nil || fmt.Sprint(main) != `[{"a":3} {"a":4}]` || len(dead) != 0 {
		t.Fatalf("second run: %q, dead letters %q, %v", main, dead, err)
	}
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(content), "a", "b")), 0o644); err != nil {
		t.Fatal(err)
	}
	if main, _, err = run(); !errors.Is(err, pipeline.ErrIncompatibleSource) || !strings.Contains(err.Error(), path) || len(main) != 0 {
		t.Fatalf("run over a rewritten file: %q, %v; want ErrIncompatibleSource naming the file", main, err)
	}
	t.Logf("refused: %v", err)
}
