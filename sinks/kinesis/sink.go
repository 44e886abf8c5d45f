package kinesis

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sinks/rowjson"
)

var (
	_ pipeline.Sink            = (*Sink)(nil)
	_ pipeline.CounterReporter = (*Sink)(nil)
)

// ErrNotBound is returned by Write before Bind succeeded.
var ErrNotBound = errors.New("kinesis: sink is not bound to a schema")

// Sink writes each row of its batches as one Kinesis record: the partition
// key from Config.PartitionKeyColumn, the data from Config.DataColumn or the
// row as a JSON object written by package sinks/rowjson (binary values are a
// string when they are valid UTF-8 and otherwise base64 under the column's
// name + "_base64"; timestamps are RFC 3339 in UTC with the unit's
// precision). It is at least once (see the package documentation):
// Write returns after Kinesis has acknowledged every row. It does not
// implement pipeline.Committer, since Kinesis cannot stage records
// invisibly. A Sink is used by one goroutine.
type Sink struct {
	cfg  Config
	p    *Producer
	name string

	schema  *arrow.Schema
	keyCol  int
	dataCol int              // -1: the row as JSON
	json    *rowjson.Encoder // nil with a data column
	buf     []byte
	rows    int64
}

// New returns a sink for cfg; opts adjust its producer (for tests).
func New(cfg Config, opts ...ProducerOption) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p, err := NewProducer(cfg.ProducerConfig, opts...)
	if err != nil {
		return nil, err
	}
	name := cfg.Name
	if name == "" {
		name = "kinesis:" + cfg.Stream
	}
	return &Sink{cfg: cfg, p: p, name: name, dataCol: -1}, nil
}

// Name identifies the sink.
func (s *Sink) Name() string { return s.name }

// Bind checks that schema has the partition key column (string, binary or
// integer) and, when configured, the data column (binary or string). Without
// a data column, each row is written as a JSON object by package
// sinks/rowjson, and Bind fails when two columns would write the same key (a
// binary column "x" also uses "x_base64").
func (s *Sink) Bind(schema *arrow.Schema) error {
	key, err := column(schema, s.cfg.PartitionKeyColumn, "partition key", func(t arrow.DataType) bool {
		switch t.ID() {
		case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY,
			arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
			return true
		}
		return false
	})
	if err != nil {
		return err
	}
	data := -1
	if s.cfg.DataColumn != "" {
		data, err = column(schema, s.cfg.DataColumn, "data", func(t arrow.DataType) bool {
			switch t.ID() {
			case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY:
				return true
			}
			return false
		})
		if err != nil {
			return err
		}
	}
	var enc *rowjson.Encoder
	if data < 0 {
		if enc, err = rowjson.NewEncoder(schema); err != nil {
			return fmt.Errorf("kinesis: %w", err)
		}
	}
	s.schema, s.keyCol, s.dataCol, s.json = schema, key, data, enc
	return nil
}

func column(schema *arrow.Schema, name, role string, ok func(arrow.DataType) bool) (int, error) {
	idx := schema.FieldIndices(name)
	if len(idx) != 1 {
		return 0, fmt.Errorf("kinesis: %s column %q: %d columns of that name in %v", role, name, len(idx), schema)
	}
	if t := schema.Field(idx[0]).Type; !ok(t) {
		return 0, fmt.Errorf("kinesis: %s column %q has unsupported type %s", role, name, t)
	}
	return idx[0], nil
}

// Write puts every row of b and returns once Kinesis has acknowledged them
// all. It releases b.
func (s *Sink) Write(ctx context.Context, b *pipeline.Batch) error {
	defer b.Release()
	if s.schema == nil {
		return ErrNotBound
	}
	rec := b.Rec
	if rec == nil || rec.NumRows() == 0 {
		return nil
	}
	if !rec.Schema().Equal(s.schema) {
		return fmt.Errorf("kinesis: sink %s: batch schema %v differs from the bound %v", s.name, rec.Schema(), s.schema)
	}
	key := keyFunc(rec.Column(s.keyCol))
	var data func(int) []byte
	if s.dataCol >= 0 {
		data = bytesFunc(rec.Column(s.dataCol))
	} else if err := s.json.Bind(rec); err != nil {
		return fmt.Errorf("kinesis: sink %s: %w", s.name, err)
	}
	for i := range int(rec.NumRows()) {
		k, ok := key(i)
		if !ok || k == "" {
			return fmt.Errorf("kinesis: sink %s: shard %s row %d: %w: null or empty %q", s.name, b.Shard, i, ErrPartitionKey, s.cfg.PartitionKeyColumn)
		}
		var d []byte
		if data != nil {
			d = data(i)
		} else {
			var err error
			if s.buf, err = s.json.AppendRow(s.buf[:0], i); err != nil {
				return fmt.Errorf("kinesis: sink %s: row %d: %w", s.name, i, err)
			}
			d = s.buf
		}
		if err := s.p.Put(ctx, k, d); err != nil {
			return fmt.Errorf("kinesis: sink %s: %w", s.name, err)
		}
	}
	if err := s.p.Flush(ctx); err != nil {
		return fmt.Errorf("kinesis: sink %s: %w", s.name, err)
	}
	s.rows += rec.NumRows()
	return nil
}

// Close releases nothing: Write leaves nothing buffered, and the client
// belongs to the caller.
func (s *Sink) Close(context.Context) error { return nil }

// Counters reports the rows written and the producer's calls, retries and
// throttles.
func (s *Sink) Counters() map[string]int64 {
	st := s.p.Stats()
	return map[string]int64{
		"kinesis_rows_written":    s.rows,
		"kinesis_records_put":     st.KinesisRecords,
		"kinesis_put_calls":       st.Calls,
		"kinesis_put_retries":     st.Retries,
		"kinesis_put_throttles":   st.Throttles,
		"kinesis_put_failed_call": st.FailedCalls,
	}
}

// keyFunc returns a column's values as partition keys; ok is false for null.
func keyFunc(col arrow.Array) func(int) (string, bool) {
	valid := func(f func(int) string) func(int) (string, bool) {
		return func(i int) (string, bool) {
			if col.IsNull(i) {
				return "", false
			}
			return f(i), true
		}
	}
	switch a := col.(type) {
	case *array.String:
		return valid(a.Value)
	case *array.LargeString:
		return valid(a.Value)
	case *array.Binary:
		return valid(func(i int) string { return string(a.Value(i)) })
	case *array.LargeBinary:
		return valid(func(i int) string { return string(a.Value(i)) })
	case *array.Int8:
		return valid(func(i int) string { return strconv.FormatInt(int64(a.Value(i)), 10) })
	case *array.Int16:
		return valid(func(i int) string { return strconv.FormatInt(int64(a.Value(i)), 10) })
	case *array.Int32:
		return valid(func(i int) string { return strconv.FormatInt(int64(a.Value(i)), 10) })
	case *array.Int64:
		return valid(func(i int) string { return strconv.FormatInt(a.Value(i), 10) })
	case *array.Uint8:
		return valid(func(i int) string { return strconv.FormatUint(uint64(a.Value(i)), 10) })
	case *array.Uint16:
		return valid(func(i int) string { return strconv.FormatUint(uint64(a.Value(i)), 10) })
	case *array.Uint32:
		return valid(func(i int) string { return strconv.FormatUint(uint64(a.Value(i)), 10) })
	case *array.Uint64:
		return valid(func(i int) string { return strconv.FormatUint(a.Value(i), 10) })
	}
	return func(int) (string, bool) { return "", false } // Bind admits no other type
}

// bytesFunc returns a binary or string column's values; null is empty.
func bytesFunc(col arrow.Array) func(int) []byte {
	switch a := col.(type) {
	case *array.Binary:
		return a.Value
	case *array.LargeBinary:
		return a.Value
	case *array.String:
		return func(i int) []byte { return []byte(a.Value(i)) }
	case *array.LargeString:
		return func(i int) []byte { return []byte(a.Value(i)) }
	}
	return func(int) []byte { return nil }
}
