package parquet

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sinks/staging"
)

var (
	_ pipeline.Sink            = (*Sink)(nil)
	_ pipeline.Committer       = (*Sink)(nil)
	_ pipeline.CounterReporter = (*Sink)(nil)
)

// ErrNotBound is returned by Write before Bind succeeded.
var ErrNotBound = errors.New("parquet: sink is not bound to a schema")

const hourMillis = int64(time.Hour / time.Millisecond)

// Sink writes batches into the Hive-partitioned Parquet files of one table.
// It is used by one goroutine.
type Sink struct {
	cfg   Config
	fs    staging.FS
	files Files // Commit, Recover; PreCommit and Close after the writers'

	schema   *arrow.Schema
	enc      encoding
	partCol  int
	partUnit arrow.TimeUnit

	parts map[int64]*partition // by hours since the epoch
	nopen int                  // partitions with an open writer
	tick  uint64               // counts writes, for least recently used

	rowsWritten int64
}

// partition is the staged file of one hour of the table in the current
// checkpoint (or, with a SpanningFile, since the checkpoint that opened it).
// Once finished early (see Config.MaxOpenPartitions) w is nil and the hour's
// next rows go to a new file, number seq+1.
type partition struct {
	file     File
	w        encoder
	seq      int    // the file's sequence number within the hour
	buffered int    // rows in the open row group
	used     uint64 // Sink.tick when last written
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
	cfg = cfg.withDefaults()
	s := &Sink{cfg: cfg, fs: staging.OS(), parts: make(map[int64]*partition)}
	for _, o := range opts {
		o(s)
	}
	if s.files == nil && strings.Contains(cfg.Dir, "://") {
		// filepath.Join would make "s3://b/p" a directory "s3:".
		return nil, fmt.Errorf("parquet: Dir %q is a URL, not a local directory; a store other than the local file system comes with WithFiles (jobs.TableSink chooses it)", cfg.Dir)
	}
	if s.files == nil {
		f, err := newLocalFiles(filepath.Join(cfg.Dir, cfg.Table), s.fs)
		if err != nil {
			return nil, fmt.Errorf("parquet: %w", err)
		}
		s.files = f
	}
	return s, nil
}

// Name implements pipeline.Sink.
func (s *Sink) Name() string { return s.cfg.Name }

// Bind implements pipeline.Sink: it maps schema to Parquet and checks the
// partition column.
func (s *Sink) Bind(schema *arrow.Schema) error {
	idx := schema.FieldIndices(s.cfg.PartitionBy)
	if len(idx) != 1 {
		return fmt.Errorf("parquet: partition column %q: found %d times in schema %s", s.cfg.PartitionBy, len(idx), schema)
	}
	ts, ok := schema.Field(idx[0]).Type.(*arrow.TimestampType)
	if !ok {
		return fmt.Errorf("parquet: partition column %q is %s, want a timestamp", s.cfg.PartitionBy, schema.Field(idx[0]).Type)
	}
	enc, err := newArrowEncoding(schema, s.cfg, false)
	if err != nil {
		return err
	}
	s.schema, s.enc = schema, enc
	s.partCol, s.partUnit = idx[0], ts.Unit
	return nil
}

// Write implements pipeline.Sink: it appends b's rows to the staged files of
// their partitions and releases b.
func (s *Sink) Write(ctx context.Context, b *pipeline.Batch) error {
	defer b.Release()
	if s.schema == nil {
		return ErrNotBound
	}
	if b.Len() == 0 {
		return nil
	}
	rec := b.Rec
	if !rec.Schema().Equal(s.schema) {
		return fmt.Errorf("parquet: batch schema %s differs from the bound schema %s", rec.Schema(), s.schema)
	}
	ts, ok := rec.Column(s.partCol).(*array.Timestamp)
	if !ok || ts.NullN() > 0 {
		return fmt.Errorf("parquet: partition column %q has nulls", s.cfg.PartitionBy)
	}
	times := ts.TimestampValues()
	n := len(times)
	lo, key := 0, s.hour(times[0])
	for i := 1; i < n; i++ {
		if k := s.hour(times[i]); k != key {
			if err := s.writeRun(rec, key, lo, i); err != nil {
				return err
			}
			lo, key = i, k
		}
	}
	if err := s.writeRun(rec, key, lo, n); err != nil {
		return err
	}
	s.rowsWritten += int64(n)
	return nil
}

// hour is the partition of timestamp t: hours since the epoch, floored.
func (s *Sink) hour(t arrow.Timestamp) int64 {
	ms := int64(t)
	switch s.partUnit {
	case arrow.Second:
		ms *= 1000
	case arrow.Microsecond:
		ms = floorDiv(ms, 1000)
	case arrow.Nanosecond:
		ms = floorDiv(ms, 1000_000)
	}
	return floorDiv(ms, hourMillis)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// partitionDir is the table-relative directory of an hour.
func partitionDir(hour int64) string {
	return time.UnixMilli(hour * hourMillis).UTC().Format("dt=2006-01-02/hour=15")
}

// writeRun writes rows [lo, hi) of rec, all of one hour, cutting a row group
// each time the partition's buffer reaches the flush size.
func (s *Sink) writeRun(rec arrow.RecordBatch, hour int64, lo, hi int) error {
	p := s.parts[hour]
	if p == nil || p.w == nil {
		if s.nopen >= s.cfg.MaxOpenPartitions {
			if err := s.finishLRU(); err != nil {
				return err
			}
		}
		seq := 0
		if p != nil {
			seq = p.seq + 1
		}
		f, err := s.files.Create(partitionDir(hour), seq)
		if err != nil {
			return fmt.Errorf("parquet: %w", err)
		}
		w, err := s.enc.newEncoder(f)
		if err != nil {
			return fmt.Errorf("parquet: %s: %w", f.Path(), err)
		}
		p = &partition{file: f, w: w, seq: seq}
		s.parts[hour] = p
		s.nopen++
	}
	s.tick++
	p.used = s.tick
	for lo < hi {
		m := min(hi-lo, s.cfg.RowGroupRows-p.buffered)
		if err := p.w.write(rec, lo, lo+m); err != nil {
			return fmt.Errorf("parquet: %s: %w", p.file.Path(), err)
		}
		lo += m
		if p.buffered += m; p.buffered >= s.cfg.RowGroupRows {
			if err := p.w.endRowGroup(); err != nil {
				return fmt.Errorf("parquet: %s: flush row group: %w", p.file.Path(), err)
			}
			p.buffered = 0
			if sf, ok := p.file.(SpanningFile); ok && sf.Full() {
				if err := s.finish(p); err != nil {
					return err
				}
				if lo < hi {
					return s.writeRun(rec, hour, lo, hi)
				}
			}
		}
	}
	return nil
}

// finishLRU finishes the file of the least recently written open partition:
// its last row group and footer are written, and the file is fsynced and
// closed, releasing the writer's buffers and the file descriptor.
func (s *Sink) finishLRU() error {
	var lru *partition
	for _, p := range s.parts {
		if p.w != nil && (lru == nil || p.used < lru.used) {
			lru = p
		}
	}
	if lru == nil {
		return nil
	}
	return s.finish(lru)
}

// finish writes the last row group and the footer of p's file and finishes
// the file.
func (s *Sink) finish(p *partition) error {
	if err := p.w.close(); err != nil {
		return fmt.Errorf("parquet: %s: finish: %w", p.file.Path(), err)
	}
	p.w, p.buffered = nil, 0
	s.nopen--
	if err := p.file.Finish(); err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	return nil
}

// PreCommit implements pipeline.Committer: it writes the last row group and
// the footer of every staged file, fsyncs and closes them, and returns the
// handle that names them. A SpanningFile that does not roll yet stays open
// instead: its open row group is written and it is given the footer that
// would end it here (SpanningFile.Checkpoint).
func (s *Sink) PreCommit(ctx context.Context, id uint64) ([]byte, error) {
	for _, hour := range slices.Sorted(maps.Keys(s.parts)) {
		p := s.parts[hour]
		if p.w == nil {
			continue
		}
		sf, spans := p.file.(SpanningFile)
		fl, flushes := p.w.(flusher)
		if spans && flushes && !sf.Roll() {
			footer, err := fl.flush()
			if err == nil {
				err = sf.Checkpoint(footer)
			}
			if err != nil {
				return nil, fmt.Errorf("parquet: pre-commit %d: %s: %w", id, p.file.Path(), err)
			}
			p.buffered = 0
			continue
		}
		if err := p.w.close(); err != nil {
			return nil, fmt.Errorf("parquet: pre-commit %d: %s: %w", id, p.file.Path(), err)
		}
		p.w = nil
		s.nopen--
		if spans {
			if err := sf.Finish(); err != nil {
				return nil, fmt.Errorf("parquet: pre-commit %d: %w", id, err)
			}
		}
	}
	h, err := s.files.PreCommit(ctx, id)
	if err != nil {
		return nil, err
	}
	maps.DeleteFunc(s.parts, func(_ int64, p *partition) bool { return p.w == nil })
	return h, nil
}

// Commit implements pipeline.Committer: it commits the files of the handle
// (see Files.Commit). Committing a handle again is harmless.
func (s *Sink) Commit(ctx context.Context, id uint64, handle []byte) error {
	return s.files.Commit(ctx, id, handle)
}

// Recover implements pipeline.Committer (see Files.Recover and, for local
// files, staging.Area.Recover).
func (s *Sink) Recover(ctx context.Context, r pipeline.Recovery) error {
	return s.files.Recover(ctx, r)
}

// Close implements pipeline.Sink: it deletes the staged files that no
// pre-commit covers. Pre-committed files stay for Commit or Recover.
func (s *Sink) Close(ctx context.Context) error {
	clear(s.parts)
	s.nopen = 0
	return s.files.Close(ctx)
}

// Counters implements pipeline.CounterReporter: rows_written and the
// Committer's counters (files_committed, commits, files_overwritten,
// files_forgotten).
func (s *Sink) Counters() map[string]int64 {
	m := s.files.Counters()
	m["rows_written"] = s.rowsWritten
	return m
}
