package operators

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/shardflow/shardflow/pipeline"
)

// JSONOptions configures the JSON decoder.
type JSONOptions struct {
	// Required lists fields that every record must have, with a non-null
	// value; a record without one goes to the dead letters. The DSL passes
	// the event-time column here.
	Required []string
}

// Validate checks the options on their own; JSON's Bind also checks them
// against the schema.
func (o JSONOptions) Validate() error {
	seen := make(map[string]bool, len(o.Required))
	for _, r := range o.Required {
		if r == "" {
			return errors.New("operators: json: empty name in Required")
		}
		if seen[r] {
			return fmt.Errorf("operators: json: %q listed twice in Required", r)
		}
		seen[r] = true
	}
	return nil
}

// JSON returns the stage that decodes the data column of raw batches
// (pipeline.RawSchema), one JSON object per record, into batches of schema.
//
// Supported column types are utf8 (a JSON string), int64 (an integer), float64
// (any number), bool, and timestamp[ms] (an RFC 3339 string, fractional
// seconds and offsets allowed, or an integer of milliseconds since the
// epoch, in both forms within the years 0000 to 9999). Keys not in schema are ignored; a missing field or a JSON null is a
// null, except for opts.Required fields.
//
// A record that cannot be decoded (bad JSON, not an object, a required field
// missing or null, a value of the wrong type, an unparsable time) becomes a
// dead letter on pipeline.DeadLetterSide, with the error naming the field and
// the payload unchanged; the other records of its batch go on, in order, as
// one batch with the raw batch's First and Last positions.
func JSON(schema *arrow.Schema, opts JSONOptions) pipeline.Stage {
	return &jsonStage{schema: schema, opts: JSONOptions{Required: slices.Clone(opts.Required)}}
}

var _ pipeline.Stage = (*jsonStage)(nil)

type jsonStage struct {
	schema *arrow.Schema
	opts   JSONOptions
}

// Name renders the declared schema and the required fields, e.g.
// `json(ts:timestamp[ms, tz=UTC],page:utf8; required=ts)`.
func (s *jsonStage) Name() string {
	var sb strings.Builder
	sb.WriteString("json(")
	if s.schema != nil {
		for i, f := range s.schema.Fields() {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(f.Name)
			sb.WriteByte(':')
			sb.WriteString(f.Type.String())
		}
	}
	if len(s.opts.Required) > 0 {
		req := slices.Clone(s.opts.Required)
		slices.Sort(req)
		sb.WriteString("; required=")
		sb.WriteString(strings.Join(req, ","))
	}
	sb.WriteByte(')')
	return sb.String()
}

// rawColumns are the indexes of the raw columns the decoder reads.
type rawColumns struct{ data, seq, n int }

func bindRaw(in *arrow.Schema) (rawColumns, error) {
	var rc rawColumns
	find := func(name string, ok func(arrow.DataType) bool, want string) (int, error) {
		idx := in.FieldIndices(name)
		if len(idx) != 1 {
			return 0, fmt.Errorf("operators: json: input has no %q column (want pipeline.RawSchema)", name)
		}
		if t := in.Field(idx[0]).Type; !ok(t) {
			return 0, fmt.Errorf("operators: json: input column %q is %s, want %s", name, t, want)
		}
		return idx[0], nil
	}
	var err error
	if rc.data, err = find(pipeline.RawData, func(t arrow.DataType) bool {
		return t.ID() == arrow.BINARY || t.ID() == arrow.STRING
	}, "binary"); err != nil {
		return rc, err
	}
	if rc.seq, err = find(pipeline.RawSeq, func(t arrow.DataType) bool { return t.ID() == arrow.STRING }, "utf8"); err != nil {
		return rc, err
	}
	if rc.n, err = find(pipeline.RawN, func(t arrow.DataType) bool { return t.ID() == arrow.INT64 }, "int64"); err != nil {
		return rc, err
	}
	return rc, nil
}

func (s *jsonStage) Bind(in *arrow.Schema) (*arrow.Schema, func(pipeline.OperatorEnv) (pipeline.Operator, error), error) {
	if s.schema == nil {
		return nil, nil, errors.New("operators: json: nil schema")
	}
	if in == nil {
		return nil, nil, errors.New("operators: json: nil input schema")
	}
	if err := s.opts.Validate(); err != nil {
		return nil, nil, err
	}
	rc, err := bindRaw(in)
	if err != nil {
		return nil, nil, err
	}
	fields, err := jsonFields(s.schema, s.opts.Required)
	if err != nil {
		return nil, nil, err
	}
	schema := outputSchema(s.schema, fields)
	decoders := newDecoderPool(schema, fields) // shared by the shards' operators
	newOp := func(env pipeline.OperatorEnv) (pipeline.Operator, error) {
		if env.Mem == nil {
			return nil, errors.New("operators: json: OperatorEnv.Mem is nil")
		}
		return newJSONOperator(env, schema, decoders, rc), nil
	}
	return schema, newOp, nil
}

// outputSchema is the declared schema with every field that is not required
// nullable, since a record may leave it out.
func outputSchema(declared *arrow.Schema, fields []jsonField) *arrow.Schema {
	out := slices.Clone(declared.Fields())
	for i := range out {
		if !fields[i].required {
			out[i].Nullable = true
		}
	}
	md := declared.Metadata()
	return arrow.NewSchema(out, &md)
}

// maxPooledStaging bounds the staging bytes of a decoder that goes back to
// its pool: a decoder grown by an outsized batch is left to the garbage
// collector instead of being kept for the next batches.
const maxPooledStaging = 8 << 20

// decoderPool lends decoders (a scanner and the column staging it fills) to
// the operators of one bound JSON stage. An operator holds one only while
// Process decodes a batch, so a job keeps about as many decoders as shards
// decode at once, not one per shard: with 1,000 shards the per-shard staging
// was the largest live cost of the job. Unlike a sync.Pool, the free list
// survives collections, which would otherwise make the staging again after
// each one.
type decoderPool struct {
	schema *arrow.Schema
	fields []jsonField
	free   chan *scanner // decoders between batches, each with its own decoder
	made   atomic.Int64  // decoders made, for tests
}

func newDecoderPool(schema *arrow.Schema, fields []jsonField) *decoderPool {
	return &decoderPool{schema: schema, fields: fields, free: make(chan *scanner, 2*runtime.GOMAXPROCS(0))}
}

// get returns a scanner and its decoder, reserved for a batch of rows records.
func (p *decoderPool) get(rows int) *scanner {
	var s *scanner
	select {
	case s = <-p.free:
	default:
		s = &scanner{d: newDecoder(p.schema, p.fields)}
		p.made.Add(1)
	}
	s.d.reserve(rows)
	return s
}

// put returns s to the free list unless the list is full or s's staging
// outgrew maxPooledStaging; either way the garbage collector takes it.
func (p *decoderPool) put(s *scanner) {
	if s.d.staging()+cap(s.scratch) > maxPooledStaging {
		return
	}
	select {
	case p.free <- s:
	default:
	}
}

// JSONOperator is an instance of the JSON stage for one shard.
type JSONOperator struct {
	env         pipeline.OperatorEnv
	raw         rawColumns
	decoders    *decoderPool
	schema      *arrow.Schema
	dead        *pipeline.DeadLetterBuilder // made at the first dead letter
	recordsIn   int64
	deadLetters int64
}

var (
	_ pipeline.Operator        = (*JSONOperator)(nil)
	_ pipeline.CounterReporter = (*JSONOperator)(nil)
)

func newJSONOperator(env pipeline.OperatorEnv, schema *arrow.Schema, decoders *decoderPool, rc rawColumns) *JSONOperator {
	return &JSONOperator{env: env, raw: rc, decoders: decoders, schema: schema}
}

// binaryColumn is what the decoder needs of the data column.
type binaryColumn interface {
	arrow.Array
	ValueBytes() []byte
	ValueOffsets() []int32
}

// Process decodes b's records, emits the decoded batch and, if any record was
// rejected, a dead-letter batch. It releases b.
func (o *JSONOperator) Process(ctx context.Context, b *pipeline.Batch, emit pipeline.Emit) error {
	defer b.Release()
	if b.Rec == nil {
		return nil
	}
	rec := b.Rec
	data, ok1 := rec.Column(o.raw.data).(binaryColumn)
	seqs, ok2 := rec.Column(o.raw.seq).(*array.String)
	ns, ok3 := rec.Column(o.raw.n).(*array.Int64)
	if !ok1 || !ok2 || !ok3 {
		return fmt.Errorf("operators: json: shard %s: batch is not of the schema the stage was bound to", b.Shard)
	}
	rows := int(rec.NumRows())
	scan := o.decoders.get(rows)
	// ValueBytes starts at the first record's bytes, ValueOffsets are
	// absolute: they differ when rec is a slice.
	offsets, bytes := data.ValueOffsets(), data.ValueBytes()
	base := offsets[0]
	good := 0
	for i := range rows {
		payload := bytes[offsets[i]-base : offsets[i+1]-base]
		var err error
		if data.IsNull(i) {
			err = errNullRecord
		} else {
			err = scan.decode(payload)
		}
		if err != nil {
			if o.dead == nil {
				o.dead = pipeline.NewDeadLetterBuilder(o.env.Mem, o.env.Source)
			}
			o.dead.Append(b.Shard, pipeline.Position{Seq: seqs.Value(i), N: ns.Value(i)}, err, payload)
			continue
		}
		scan.d.commit()
		good++
	}
	o.recordsIn += int64(rows)
	o.deadLetters += int64(rows - good)

	var out arrow.RecordBatch
	if good > 0 {
		out = scan.d.build(o.env.Mem, o.schema)
	}
	o.decoders.put(scan) // before emit, which may wait on the next hop
	if out != nil {
		emit(&pipeline.Batch{Rec: out, Shard: b.Shard, First: b.First, Last: b.Last})
	}
	if o.dead != nil {
		if dl := o.dead.NewBatch(b.Shard); dl != nil {
			emit(dl)
		}
	}
	return nil
}

var errNullRecord = errors.New("json: record has no data (null)")

// Counters reports records_in (records decoded or rejected) and dead_letters.
func (o *JSONOperator) Counters() map[string]int64 {
	return map[string]int64{"records_in": o.recordsIn, "dead_letters": o.deadLetters}
}

// Close releases the dead-letter builder. The runtime need not call it: after
// Process returns the operator holds no Arrow memory.
func (o *JSONOperator) Close() error {
	if o.dead != nil {
		o.dead.Release()
	}
	return nil
}
