package featurestore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/shardflow/shardflow/internal/wire"
	"github.com/shardflow/shardflow/pipeline"
)

// DefaultPutRows is how many rows the Sink hands a Store in one Put.
const DefaultPutRows = 1000

// SinkConfig configures a Sink.
type SinkConfig struct {
	// Name identifies the sink in checkpoints; default "features:" + View.Name.
	Name string
	// View is the feature view the rows are of.
	View View
	// Store receives the rows; the Sink closes it.
	Store Store
	// EventTime is the timestamp column of each row's event time; default
	// "event_ts".
	EventTime string
	// Revision is the int64 column of each row's revision (Row.Revision), or
	// "" for none. A windowed count of the records is a revision: when an
	// out-of-order record joins a window, its newest event time stays and the
	// count grows.
	Revision string
	// PutRows bounds the rows of one Put; default DefaultPutRows.
	PutRows int
}

// Sink writes the rows of a job's output to a feature store, exactly as of
// the job's checkpoints: the rows of a checkpoint are staged in its handle at
// the barrier (the newest row of each entity) and put at its commit, so the
// store reflects what the job's checkpoints hold, and a commit replayed after
// a crash puts the same rows again, which the store's compare-and-set makes
// a no-op where newer rows are stored.
//
// The input has the view's entity column (string), the event-time column
// (timestamp) and one column per feature of a matching type: int64 for
// Int64, float64 for Float64, string for String, a timestamp for Timestamp.
// Other columns are ignored. Nulls are null values, except in the entity and
// event-time columns, where they are an error.
type Sink struct {
	cfg     SinkConfig
	entity  int
	evtime  int
	evunit  arrow.TimeUnit
	rev     int // the revision column, -1 for none
	cols    []int
	units   []arrow.TimeUnit
	staged  map[string]int // entity -> index in rows
	rows    []Row
	written int64
}

// NewSink returns a Sink of cfg.
func NewSink(cfg SinkConfig) (*Sink, error) {
	if cfg.Store == nil {
		return nil, errors.New("featurestore: no store")
	}
	if err := cfg.View.Validate(); err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		cfg.Name = "features:" + cfg.View.Name
	}
	if cfg.EventTime == "" {
		cfg.EventTime = "event_ts"
	}
	if cfg.PutRows <= 0 {
		cfg.PutRows = DefaultPutRows
	}
	return &Sink{cfg: cfg, staged: map[string]int{}}, nil
}

// Name implements pipeline.Sink.
func (s *Sink) Name() string { return s.cfg.Name }

// Bind implements pipeline.Sink: it checks that schema has the view's columns.
func (s *Sink) Bind(schema *arrow.Schema) error {
	col := func(name string, want arrow.Type) (int, arrow.TimeUnit, error) {
		idx := schema.FieldIndices(name)
		if len(idx) != 1 {
			return 0, 0, fmt.Errorf("featurestore: %s: the input has no column %q (it has %s)", s.cfg.Name, name, schema)
		}
		f := schema.Field(idx[0])
		if f.Type.ID() != want {
			return 0, 0, fmt.Errorf("featurestore: %s: column %q is %s, want %s", s.cfg.Name, name, f.Type, strings.ToLower(want.String()))
		}
		var unit arrow.TimeUnit
		if ts, ok := f.Type.(*arrow.TimestampType); ok {
			unit = ts.Unit
		}
		return idx[0], unit, nil
	}
	var err error
	if s.entity, _, err = col(s.cfg.View.Entity, arrow.STRING); err != nil {
		return err
	}
	if s.evtime, s.evunit, err = col(s.cfg.EventTime, arrow.TIMESTAMP); err != nil {
		return err
	}
	s.rev = -1
	if s.cfg.Revision != "" {
		if s.rev, _, err = col(s.cfg.Revision, arrow.INT64); err != nil {
			return err
		}
	}
	s.cols, s.units = make([]int, len(s.cfg.View.Features)), make([]arrow.TimeUnit, len(s.cfg.View.Features))
	for i, f := range s.cfg.View.Features {
		want := map[Type]arrow.Type{Int64: arrow.INT64, Float64: arrow.FLOAT64, String: arrow.STRING, Timestamp: arrow.TIMESTAMP}[f.Type]
		if s.cols[i], s.units[i], err = col(f.Name, want); err != nil {
			return err
		}
	}
	return nil
}

// Write implements pipeline.Sink: it stages the newest row of each entity.
func (s *Sink) Write(ctx context.Context, b *pipeline.Batch) error {
	defer b.Release()
	if s.cols == nil {
		return fmt.Errorf("featurestore: %s: Write before Bind", s.cfg.Name)
	}
	rec := b.Rec
	entities, ok := rec.Column(s.entity).(*array.String)
	times, ok2 := rec.Column(s.evtime).(*array.Timestamp)
	if !ok || !ok2 {
		return fmt.Errorf("featurestore: %s: batch schema %s differs from the bound one", s.cfg.Name, rec.Schema())
	}
	var revs *array.Int64
	if s.rev >= 0 {
		revs = rec.Column(s.rev).(*array.Int64)
	}
	features := make([]arrow.Array, len(s.cols))
	for j, c := range s.cols {
		features[j] = rec.Column(c)
	}
	for r := range int(rec.NumRows()) {
		if entities.IsNull(r) || times.IsNull(r) {
			return fmt.Errorf("featurestore: %s: row %d of shard %s has a null %s or %s", s.cfg.Name, r, b.Shard, s.cfg.View.Entity, s.cfg.EventTime)
		}
		ts := millis(int64(times.Value(r)), s.evunit)
		var rev int64
		if revs != nil {
			rev = revs.Value(r)
		}
		e := entities.Value(r)
		i, seen := s.staged[e]
		if seen && (s.rows[i].EventTime > ts || s.rows[i].EventTime == ts && s.rows[i].Revision > rev) {
			continue
		}
		if !seen {
			// Arrow's strings point into the batch's buffers, which the
			// allocator reuses once the batch is released: keep copies.
			i = len(s.rows)
			s.rows = append(s.rows, Row{Entity: strings.Clone(e), Values: make([]Value, len(s.cols))})
			s.staged[s.rows[i].Entity] = i
		}
		row := &s.rows[i]
		row.EventTime, row.Revision = ts, rev
		for j, col := range features {
			row.Values[j] = value(col, r, s.units[j])
		}
	}
	return nil
}

func value(col arrow.Array, r int, unit arrow.TimeUnit) Value {
	if col.IsNull(r) {
		return Value{Null: true}
	}
	switch a := col.(type) {
	case *array.Int64:
		return Value{Int: a.Value(r)}
	case *array.Float64:
		return Value{Float: a.Value(r)}
	case *array.String:
		return Value{Str: strings.Clone(a.Value(r))}
	case *array.Timestamp:
		return Value{Int: millis(int64(a.Value(r)), unit)}
	}
	panic(fmt.Sprintf("featurestore: unbound column type %s", col.DataType()))
}

// millis converts a timestamp of unit to Unix milliseconds.
func millis(v int64, unit arrow.TimeUnit) int64 {
	return v * int64(unit.Multiplier()) / int64(time.Millisecond)
}

// PreCommit implements pipeline.Committer: the staged rows become the
// checkpoint's handle.
func (s *Sink) PreCommit(ctx context.Context, id uint64) ([]byte, error) {
	if len(s.rows) == 0 {
		return nil, nil
	}
	h := encodeRows(s.cfg.View, s.rows)
	s.rows, s.staged = s.rows[:0], map[string]int{}
	return h, nil
}

// Commit implements pipeline.Committer: it puts the handle's rows.
func (s *Sink) Commit(ctx context.Context, id uint64, handle []byte) error {
	if len(handle) == 0 {
		return nil
	}
	rows, err := decodeRows(s.cfg.View, handle)
	if err != nil {
		return fmt.Errorf("featurestore: %s: checkpoint %d: %w", s.cfg.Name, id, err)
	}
	for len(rows) > 0 {
		n := min(len(rows), s.cfg.PutRows)
		if err := s.cfg.Store.Put(ctx, rows[:n]); err != nil {
			return fmt.Errorf("featurestore: %s: checkpoint %d: %w", s.cfg.Name, id, err)
		}
		s.written += int64(n)
		rows = rows[n:]
	}
	return nil
}

// Recover implements pipeline.Committer: it puts the rows of the restored
// checkpoint again. Rows staged after it were never put, so there is nothing
// to discard; rows another run put are harmless, since the store keeps the
// newest of each entity.
func (s *Sink) Recover(ctx context.Context, r pipeline.Recovery) error {
	return s.Commit(ctx, r.ID, r.Handle)
}

// Close implements pipeline.Sink: it closes the store. Staged rows are
// dropped: no checkpoint owns them.
func (s *Sink) Close(ctx context.Context) error { return s.cfg.Store.Close() }

// Counters implements pipeline.CounterReporter.
func (s *Sink) Counters() map[string]int64 {
	return map[string]int64{"feature_rows_written": s.written}
}

// The handle: "SFFS", version 1, the view's features (their count, then each
// name and type), the row count, then per row the entity, the event time, the
// revision and each value: a null byte, then the value by the feature's type.
const (
	handleMagic   = "SFFS"
	handleVersion = 1
)

func encodeRows(v View, rows []Row) []byte {
	b := append([]byte(handleMagic), handleVersion)
	b = binary.AppendUvarint(b, uint64(len(v.Features)))
	for _, f := range v.Features {
		b = binary.AppendUvarint(b, uint64(len(f.Name)))
		b = append(b, f.Name...)
		b = append(b, byte(f.Type))
	}
	b = binary.AppendUvarint(b, uint64(len(rows)))
	for _, r := range rows {
		b = binary.AppendUvarint(b, uint64(len(r.Entity)))
		b = append(b, r.Entity...)
		b = binary.AppendVarint(b, r.EventTime)
		b = binary.AppendVarint(b, r.Revision)
		for i, f := range v.Features {
			val := r.Values[i]
			if val.Null {
				b = append(b, 1)
				continue
			}
			b = append(b, 0)
			switch f.Type {
			case Int64, Timestamp:
				b = binary.AppendVarint(b, val.Int)
			case Float64:
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(val.Float))
			case String:
				b = binary.AppendUvarint(b, uint64(len(val.Str)))
				b = append(b, val.Str...)
			}
		}
	}
	return b
}

var errHandle = errors.New("damaged feature-store handle")

func decodeRows(v View, b []byte) ([]Row, error) {
	if len(b) < len(handleMagic)+1 || string(b[:len(handleMagic)]) != handleMagic {
		return nil, errHandle
	}
	if b[len(handleMagic)] != handleVersion {
		return nil, fmt.Errorf("feature-store handle version %d: this shardflow reads version %d", b[len(handleMagic)], handleVersion)
	}
	r := wire.NewReader(b[len(handleMagic)+1:], errHandle)
	features := make([]Feature, r.Count(2)) // a name length and a type
	for i := range features {
		features[i] = Feature{Name: r.String(), Type: Type(r.Byte())}
	}
	if r.Err() != nil {
		return nil, r.Err()
	}
	if !slices.Equal(features, v.Features) {
		return nil, fmt.Errorf("the checkpoint's feature-store handle holds features %v, the view has %v: the job changed; start it with a fresh checkpoint directory", features, v.Features)
	}
	// A row takes at least an entity length, an event time, a revision and a
	// null byte per feature.
	rows := make([]Row, 0, r.Count(3+len(v.Features)))
	for range cap(rows) {
		row := Row{Entity: r.String(), EventTime: r.Varint(), Revision: r.Varint(), Values: make([]Value, len(v.Features))}
		for i, f := range v.Features {
			if r.Byte() == 1 {
				row.Values[i].Null = true
				continue
			}
			switch f.Type {
			case Int64, Timestamp:
				row.Values[i].Int = r.Varint()
			case Float64:
				row.Values[i].Float = math.Float64frombits(r.Uint64())
			case String:
				row.Values[i].Str = r.String()
			}
		}
		rows = append(rows, row)
	}
	if r.Err() != nil {
		return nil, r.Err()
	}
	if r.Len() != 0 {
		return nil, errHandle
	}
	return rows, nil
}
