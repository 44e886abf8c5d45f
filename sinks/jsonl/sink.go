package jsonl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sinks/staging"
)

var (
	_ pipeline.Sink            = (*Sink)(nil)
	_ pipeline.Committer       = (*Sink)(nil)
	_ pipeline.CounterReporter = (*Sink)(nil)
)

// ErrNotBound is returned by Write before Bind.
var ErrNotBound = errors.New("jsonl: sink is not bound to a schema")

// Config configures a Sink.
type Config struct {
	// Name identifies the sink in checkpoints; default "jsonl:" + the base
	// name of Dir.
	Name string
	// Dir is the directory of the files.
	Dir string
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.Dir == "" {
		return errors.New("jsonl: Dir is empty")
	}
	return nil
}

// Sink writes batches as JSON lines, one committed file per checkpoint. It is
// used by one goroutine.
type Sink struct {
	name   string
	fs     staging.FS
	area   *staging.Area
	schema *arrow.Schema
	fields []field

	file *staging.Staged
	w    *bufio.Writer
	line []byte

	rowsWritten    int64
	filesCommitted int64
}

// Option adjusts a Sink; for tests.
type Option func(*Sink)

// WithFS makes the sink use fsys for its files instead of the operating system.
func WithFS(fsys staging.FS) Option { return func(s *Sink) { s.fs = fsys } }

// New returns a sink for cfg.
func New(cfg Config, opts ...Option) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Sink{name: cfg.Name, fs: staging.OS()}
	if s.name == "" {
		s.name = "jsonl:" + filepath.Base(cfg.Dir)
	}
	for _, o := range opts {
		o(s)
	}
	var err error
	if s.area, err = staging.NewArea(cfg.Dir, "jsonl", s.fs); err != nil {
		return nil, fmt.Errorf("jsonl: %w", err)
	}
	return s, nil
}

// Name implements pipeline.Sink.
func (s *Sink) Name() string { return s.name }

// Bind implements pipeline.Sink. Every Arrow schema can be written.
func (s *Sink) Bind(schema *arrow.Schema) error {
	seen := make(map[string]bool, schema.NumFields())
	for _, f := range schema.Fields() {
		if seen[f.Name] || seen[f.Name+"_base64"] {
			return fmt.Errorf("jsonl: column %q appears twice (binary columns also use name_base64)", f.Name)
		}
		seen[f.Name] = true
		if f.Type.ID() == arrow.BINARY || f.Type.ID() == arrow.LARGE_BINARY {
			seen[f.Name+"_base64"] = true
		}
	}
	s.schema, s.fields = schema, newFields(schema)
	return nil
}

// Write implements pipeline.Sink: it appends b's rows to the checkpoint's
// staged file and releases b.
func (s *Sink) Write(ctx context.Context, b *pipeline.Batch) error {
	defer b.Release()
	if s.schema == nil {
		return ErrNotBound
	}
	if b.Len() == 0 {
		return nil
	}
	if !b.Rec.Schema().Equal(s.schema) {
		return fmt.Errorf("jsonl: batch schema %s differs from the bound schema %s", b.Rec.Schema(), s.schema)
	}
	if s.file == nil {
		f, err := s.area.Create(".", 0)
		if err != nil {
			return fmt.Errorf("jsonl: %w", err)
		}
		s.file, s.w = f, bufio.NewWriterSize(f, 64<<10)
	}
	n := b.Len()
	for i := range n {
		var err error
		if s.line, err = appendRow(s.line[:0], s.fields, b.Rec, i); err != nil {
			return err
		}
		if _, err := s.w.Write(s.line); err != nil {
			return fmt.Errorf("jsonl: %s: %w", s.file.Path(), err)
		}
	}
	s.rowsWritten += int64(n)
	return nil
}

// PreCommit implements pipeline.Committer: it flushes, fsyncs and closes the
// staged file and returns the handle that names it.
func (s *Sink) PreCommit(ctx context.Context, id uint64) ([]byte, error) {
	if s.w != nil {
		if err := s.w.Flush(); err != nil {
			return nil, fmt.Errorf("jsonl: pre-commit %d: %s: %w", id, s.file.Path(), err)
		}
	}
	h, err := s.area.PreCommit(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("jsonl: %w", err)
	}
	s.file, s.w = nil, nil
	return h, nil
}

// Commit implements pipeline.Committer: it renames the handle's file to its
// final name. Committing a handle again is harmless.
func (s *Sink) Commit(ctx context.Context, id uint64, handle []byte) error {
	n, err := s.area.Commit(ctx, id, handle)
	s.filesCommitted += int64(n)
	if err != nil {
		return fmt.Errorf("jsonl: %w", err)
	}
	return nil
}

// Recover implements pipeline.Committer: it commits the handle again and
// deletes the staged files that it does not own.
func (s *Sink) Recover(ctx context.Context, id uint64, handle []byte) error {
	n, err := s.area.Recover(ctx, id, handle)
	s.filesCommitted += int64(n)
	if err != nil {
		return fmt.Errorf("jsonl: %w", err)
	}
	return nil
}

// Close implements pipeline.Sink: it deletes the staged file that no
// pre-commit covers. Pre-committed files stay for Commit or Recover.
func (s *Sink) Close(ctx context.Context) error {
	s.file, s.w = nil, nil
	if err := s.area.Abort(); err != nil {
		return fmt.Errorf("jsonl: close: %w", err)
	}
	return nil
}

// Counters implements pipeline.CounterReporter.
func (s *Sink) Counters() map[string]int64 {
	return map[string]int64{"rows_written": s.rowsWritten, "files_committed": s.filesCommitted}
}
