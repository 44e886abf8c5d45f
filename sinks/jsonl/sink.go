package jsonl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sinks/rowjson"
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
	staging.Committer // Commit, Recover; PreCommit and Close after the encoder's

	name   string
	fs     staging.FS
	area   *staging.Area
	schema *arrow.Schema
	enc    *rowjson.Encoder

	file *staging.Staged
	w    *bufio.Writer
	line []byte

	rowsWritten int64
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
	s.Committer = staging.NewCommitter("jsonl", s.area)
	return s, nil
}

// Name implements pipeline.Sink.
func (s *Sink) Name() string { return s.name }

// Bind implements pipeline.Sink. Every Arrow schema can be written whose
// columns make distinct keys (a binary column "x" also uses "x_base64").
func (s *Sink) Bind(schema *arrow.Schema) error {
	enc, err := rowjson.NewEncoder(schema)
	if err != nil {
		return fmt.Errorf("jsonl: %w", err)
	}
	s.schema, s.enc = schema, enc
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
	if err := s.enc.Bind(b.Rec); err != nil {
		return fmt.Errorf("jsonl: %w", err)
	}
	n := b.Len()
	for i := range n {
		var err error
		if s.line, err = s.enc.AppendRow(s.line[:0], i); err != nil {
			return fmt.Errorf("jsonl: row %d: %w", i, err)
		}
		s.line = append(s.line, '\n')
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
	h, err := s.Committer.PreCommit(ctx, id)
	if err != nil {
		return nil, err
	}
	s.file, s.w = nil, nil
	return h, nil
}

// Close implements pipeline.Sink: it deletes the staged file that no
// pre-commit covers. Pre-committed files stay for Commit or Recover.
func (s *Sink) Close(ctx context.Context) error {
	s.file, s.w = nil, nil
	return s.Committer.Close(ctx)
}

// Counters implements pipeline.CounterReporter: rows_written and the
// Committer's counters (files_committed, commits, files_overwritten,
// files_forgotten).
func (s *Sink) Counters() map[string]int64 {
	m := s.Committer.Counters()
	m["rows_written"] = s.rowsWritten
	return m
}
