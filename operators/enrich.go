package operators

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
)

// A Table is a static table that an Enrich stage joins to the rows of a job:
// a page catalogue, a user table. CSVTable reads one from a CSV file;
// operators/parquettable from a Parquet file.
type Table interface {
	// Path names the table (its file) in the stage's name.
	Path() string
	// Load reads the whole table into one record batch allocated from mem
	// and returns it with the SHA-256 of the bytes it was read from.
	Load(mem memory.Allocator) (arrow.RecordBatch, [sha256.Size]byte, error)
}

// Enrich returns the stage that appends the columns of table to each row,
// taken from the table's row whose key equals the row's column on: a lookup
// join against a broadcast table, as Flink's lookup join or Redpanda
// Connect's cache lookup.
//
// The table is loaded once, when the stage is bound (when the job is built),
// into an in-memory index from its key column to its row; it is static for
// the job's run, and every shard task shares it. A missing file, a key or a
// column that is not in the table, a column name the input already has, a
// table key that appears twice or is null, and key columns of different
// types (string and string, or integers) fail at Bind, before any record is
// read. The stage's name holds the table's path and a prefix of the SHA-256
// of its file, so that a job that runs with another table has another
// fingerprint and does not resume from the checkpoints of the first.
//
// A row whose key is null or not in the table keeps its place, with nulls in
// the appended columns (a left join); DropUnmatched drops it instead (an
// inner join). The appended columns are nullable and have the table's types.
func Enrich(table Table, on string, columns ...string) *EnrichStage {
	return &EnrichStage{table: table, on: on, tableKey: on, cols: append([]string(nil), columns...)}
}

// EnrichStage is the stage Enrich returns; its methods set its options.
type EnrichStage struct {
	table    Table
	on       string
	tableKey string
	cols     []string
	drop     bool
	// sum is the SHA-256 of the table's file, known once Bind has loaded it.
	sum []byte
}

var _ pipeline.Stage = (*EnrichStage)(nil)

// TableKey names the table's key column when it differs from the input's
// column on (by default they have the same name).
func (s *EnrichStage) TableKey(column string) *EnrichStage {
	s.tableKey = column
	return s
}

// DropUnmatched drops the rows whose key is null or not in the table instead
// of passing them on with nulls.
func (s *EnrichStage) DropUnmatched() *EnrichStage {
	s.drop = true
	return s
}

// Name is e.g. `enrich(pages.csv sha256:1f0a..., on=page: category,title)`;
// before Bind has loaded the table, the hash reads "not loaded".
func (s *EnrichStage) Name() string {
	var sb strings.Builder
	sb.WriteString("enrich(")
	if s.table == nil {
		sb.WriteString("<nil>")
	} else {
		sb.WriteString(s.table.Path())
	}
	if s.sum != nil {
		sb.WriteString(" sha256:" + hex.EncodeToString(s.sum[:8]))
	} else {
		sb.WriteString(" not loaded")
	}
	sb.WriteString(", on=" + s.on)
	if s.tableKey != s.on {
		sb.WriteString("=" + s.tableKey)
	}
	sb.WriteString(": " + strings.Join(s.cols, ","))
	if s.drop {
		sb.WriteString("; drop unmatched")
	}
	sb.WriteString(")")
	return sb.String()
}

// Bind loads the table, builds its index and checks it against in.
func (s *EnrichStage) Bind(in *arrow.Schema) (*arrow.Schema, func(pipeline.OperatorEnv) (pipeline.Operator, error), error) {
	switch {
	case s.table == nil:
		return nil, nil, errors.New("operators: enrich: nil table")
	case in == nil:
		return nil, nil, errors.New("operators: enrich: nil input schema")
	case len(s.cols) == 0:
		return nil, nil, errors.New("operators: enrich: no columns to append")
	}
	keyIdx, err := findColumn(in, s.on)
	if err != nil {
		return nil, nil, fmt.Errorf("operators: enrich: input: %w", err)
	}
	keyKind, err := keyKindOf(in.Field(keyIdx).Type)
	if err != nil {
		return nil, nil, fmt.Errorf("operators: enrich: input column %q: %w", s.on, err)
	}

	// The table lives as long as the operators that share it: Go memory,
	// which the garbage collector frees with the last of them.
	rec, sum, err := s.table.Load(memory.DefaultAllocator)
	if err != nil {
		return nil, nil, fmt.Errorf("operators: enrich: table %s: %w", s.table.Path(), err)
	}
	defer rec.Release()
	idx, err := s.bindTable(rec, keyKind)
	if err != nil {
		return nil, nil, fmt.Errorf("operators: enrich: table %s: %w", s.table.Path(), err)
	}

	fields := append([]arrow.Field(nil), in.Fields()...)
	for i, c := range s.cols {
		if len(in.FieldIndices(c)) > 0 {
			return nil, nil, fmt.Errorf("operators: enrich: table %s: column %q is already in the input", s.table.Path(), c)
		}
		f := rec.Schema().Field(idx.colIdx[i])
		fields = append(fields, arrow.Field{Name: f.Name, Type: f.Type, Nullable: true, Metadata: f.Metadata})
	}
	md := in.Metadata()
	out := arrow.NewSchema(fields, &md)
	s.sum = sum[:]

	drop, name := s.drop, s.Name()
	newOp := func(env pipeline.OperatorEnv) (pipeline.Operator, error) {
		if env.Mem == nil {
			return nil, errors.New("operators: enrich: OperatorEnv.Mem is nil")
		}
		return &EnrichOperator{mem: env.Mem, out: out, name: name, key: keyIdx, idx: idx, drop: drop}, nil
	}
	return out, newOp, nil
}

// bindTable finds the key and the chosen columns of the loaded table and
// indexes it.
func (s *EnrichStage) bindTable(rec arrow.RecordBatch, inKind keyKind) (*tableIndex, error) {
	schema := rec.Schema()
	k, err := findColumn(schema, s.tableKey)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	kind, err := keyKindOf(schema.Field(k).Type)
	if err != nil {
		return nil, fmt.Errorf("key column %q: %w", s.tableKey, err)
	}
	if kind != inKind {
		return nil, fmt.Errorf("key column %q is %s but the input's %q is %s; declare the table's column types to match",
			s.tableKey, schema.Field(k).Type, s.on, inKind)
	}
	idx := &tableIndex{colIdx: make([]int, len(s.cols)), cols: make([]arrow.ArrayData, len(s.cols))}
	seen := make(map[string]bool, len(s.cols))
	for i, c := range s.cols {
		if seen[c] {
			return nil, fmt.Errorf("column %q listed twice", c)
		}
		seen[c] = true
		j, err := findColumn(schema, c)
		if err != nil {
			return nil, err
		}
		if err := takeSupported(schema.Field(j).Type); err != nil {
			return nil, fmt.Errorf("column %q: %w", c, err)
		}
		idx.colIdx[i] = j
		// Kept after rec is released: in Go memory, the garbage collector
		// frees it with the last operator.
		idx.cols[i] = rec.Column(j).Data()
		idx.cols[i].Retain()
	}
	if err := idx.build(rec.Column(k), s.tableKey); err != nil {
		return nil, err
	}
	return idx, nil
}

// EnrichOperator is an instance of the Enrich stage.
type EnrichOperator struct {
	mem  memory.Allocator
	out  *arrow.Schema
	name string
	key  int
	idx  *tableIndex
	drop bool

	rows  []int32 // the table row of each input row, -1 for none
	kept  []int32 // the input rows kept under DropUnmatched
	cols  []arrow.Array
	added []arrow.Array

	rowsIn, matched int64
}

var (
	_ pipeline.Operator        = (*EnrichOperator)(nil)
	_ pipeline.CounterReporter = (*EnrichOperator)(nil)
)

// Process looks up the key column a batch at a time, reading string keys
// straight from the column's bytes, then gathers each appended column from
// the table in one pass (see enrichtake.go). The batch's input columns are
// passed on without a copy, unless DropUnmatched drops some of its rows.
func (e *EnrichOperator) Process(_ context.Context, b *pipeline.Batch, emit pipeline.Emit) error {
	if b.Rec == nil {
		b.Release()
		return nil
	}
	if int(b.Rec.NumCols()) != e.out.NumFields()-len(e.idx.cols) {
		b.Release()
		return fmt.Errorf("operators: %s: shard %s: batch has %d columns, not the schema the stage was bound to", e.name, b.Shard, b.Rec.NumCols())
	}
	var err error
	e.rows, err = e.idx.lookup(b.Rec.Column(e.key).Data(), e.rows[:0])
	if err != nil {
		b.Release()
		return fmt.Errorf("operators: %s: shard %s: %w", e.name, b.Shard, err)
	}
	n := len(e.rows)
	matched := 0
	for _, r := range e.rows {
		if r >= 0 {
			matched++
		}
	}
	e.rowsIn += int64(n)
	e.matched += int64(matched)

	in := b.Rec
	if e.drop && matched < n {
		if b.Rows != nil {
			b.Release()
			return fmt.Errorf("operators: %s: shard %s: cannot drop rows of a batch with a row selection", e.name, b.Shard)
		}
		if matched == 0 {
			b.Release()
			return nil
		}
		e.kept = e.kept[:0]
		e.rows = compactRows(e.rows, &e.kept)
		// The null count of a slice is unknown (-1) until asked for, and the
		// take of take.go reads validity only where it is known to be > 0.
		for _, c := range b.Rec.Columns() {
			c.NullN()
		}
		if in, err = takeRecord(e.mem, b.Rec, e.kept); err != nil {
			b.Release()
			return fmt.Errorf("operators: %s: shard %s: %w", e.name, b.Shard, err)
		}
		defer in.Release()
	}

	e.cols = append(e.cols[:0], in.Columns()...)
	e.added = e.added[:0]
	defer func() {
		for _, a := range e.added {
			a.Release()
		}
		clear(e.added)
		clear(e.cols)
	}()
	for _, d := range e.idx.cols {
		data := takeOrNull(e.mem, d, e.rows)
		a := array.MakeFromData(data)
		data.Release()
		e.added = append(e.added, a)
		e.cols = append(e.cols, a)
	}
	rec := array.NewRecordBatch(e.out, e.cols, int64(len(e.rows)))
	nb := b.WithRecord(rec)
	b.Release()
	emit(nb)
	return nil
}

// compactRows keeps the matched entries of rows, in place, and appends their
// positions to kept.
func compactRows(rows []int32, kept *[]int32) []int32 {
	out := rows[:0]
	for i, r := range rows {
		if r >= 0 {
			*kept = append(*kept, int32(i))
			out = append(out, r)
		}
	}
	return out
}

// Counters reports rows_in, matched and unmatched (the rows dropped under
// DropUnmatched, else those passed on with nulls).
func (e *EnrichOperator) Counters() map[string]int64 {
	return map[string]int64{"rows_in": e.rowsIn, "matched": e.matched, "unmatched": e.rowsIn - e.matched}
}
