package operators

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/expr"
	"github.com/shardflow/shardflow/pipeline"
)

// Derive returns the stage that appends column name, the value v computed
// for every row, to each batch: an int64 column when v's operands are all
// integers, else a float64 one, null where v is null (a null operand, a
// division by zero). For example
//
//	operators.Derive("price_eur", expr.Mul(expr.Col("price"), expr.Float(0.908)))
//
// An unknown or non-numeric column, or a name the input already has, fails
// at Bind. The other columns pass on without a copy.
func Derive(name string, v expr.Value) pipeline.Stage { return &deriveStage{name: name, v: v} }

var _ pipeline.Stage = (*deriveStage)(nil)

type deriveStage struct {
	name string
	v    expr.Value
}

func (s *deriveStage) Name() string {
	if s.v == nil {
		return "derive(" + s.name + " = <nil>)"
	}
	return "derive(" + s.name + " = " + s.v.String() + ")"
}

func (s *deriveStage) Bind(in *arrow.Schema) (*arrow.Schema, func(pipeline.OperatorEnv) (pipeline.Operator, error), error) {
	switch {
	case s.v == nil:
		return nil, nil, errors.New("operators: derive: nil value")
	case in == nil:
		return nil, nil, errors.New("operators: derive: nil input schema")
	case s.name == "":
		return nil, nil, errors.New("operators: derive: empty column name")
	case len(in.FieldIndices(s.name)) > 0:
		return nil, nil, fmt.Errorf("operators: derive: column %q is in the input already", s.name)
	}
	bv, err := s.v.BindValue(in)
	if err != nil {
		return nil, nil, fmt.Errorf("operators: derive %s: %w", s.name, err)
	}
	md := in.Metadata()
	fields := append(append([]arrow.Field(nil), in.Fields()...), arrow.Field{Name: s.name, Type: bv.Type(), Nullable: true})
	out := arrow.NewSchema(fields, &md)
	v := s.v
	newOp := func(env pipeline.OperatorEnv) (pipeline.Operator, error) {
		if env.Mem == nil {
			return nil, errors.New("operators: derive: OperatorEnv.Mem is nil")
		}
		// A BoundValue belongs to one goroutine: bind again per instance.
		bv, err := v.BindValue(in)
		if err != nil {
			return nil, fmt.Errorf("operators: derive %s: %w", s.name, err)
		}
		return &DeriveOperator{name: s.name, mem: env.Mem, out: out, v: bv, float: bv.Type().ID() == arrow.FLOAT64}, nil
	}
	return out, newOp, nil
}

// DeriveOperator is an instance of the Derive stage.
type DeriveOperator struct {
	name  string
	mem   memory.Allocator
	out   *arrow.Schema
	v     expr.BoundValue
	float bool
	null  []bool
	cols  []arrow.Array
	rows  int64
}

var (
	_ pipeline.Operator        = (*DeriveOperator)(nil)
	_ pipeline.CounterReporter = (*DeriveOperator)(nil)
)

// Process computes the value straight into the new column's Arrow buffer
// and emits b's columns with it appended.
func (d *DeriveOperator) Process(_ context.Context, b *pipeline.Batch, emit pipeline.Emit) error {
	if b.Rec == nil {
		b.Release()
		return nil
	}
	if err := d.fits(b.Rec); err != nil {
		b.Release()
		return fmt.Errorf("operators: derive %s: shard %s: %w", d.name, b.Shard, err)
	}
	col, err := d.compute(b.Rec)
	if err != nil {
		b.Release()
		return fmt.Errorf("operators: derive %s: shard %s: %w", d.name, b.Shard, err)
	}
	d.cols = append(d.cols[:0], b.Rec.Columns()...)
	d.cols = append(d.cols, col)
	rec := array.NewRecordBatch(d.out, d.cols, b.Rec.NumRows())
	col.Release()
	clear(d.cols)
	d.rows += b.Rec.NumRows()
	nb := b.WithRecord(rec)
	b.Release()
	emit(nb)
	return nil
}

// fits checks that rec has the columns of the bound input schema, which
// array.NewRecordBatch would otherwise refuse with a panic.
func (d *DeriveOperator) fits(rec arrow.RecordBatch) error {
	if int(rec.NumCols()) != d.out.NumFields()-1 {
		return fmt.Errorf("batch has %d columns, not the %d of the schema the stage was bound to", rec.NumCols(), d.out.NumFields()-1)
	}
	for i, c := range rec.Columns() {
		if want := d.out.Field(i).Type; !arrow.TypeEqual(c.DataType(), want) {
			return fmt.Errorf("batch column %d (%s) is %s, not %s as bound", i, rec.ColumnName(i), c.DataType(), want)
		}
	}
	return nil
}

// compute evaluates the value over rec into a new array.
func (d *DeriveOperator) compute(rec arrow.RecordBatch) (arrow.Array, error) {
	n := int(rec.NumRows())
	if cap(d.null) < n {
		d.null = make([]bool, n)
	}
	d.null = d.null[:n]
	clear(d.null)
	vals := memory.NewResizableBuffer(d.mem)
	defer vals.Release()
	vals.Resize(n * 8)
	var err error
	if d.float {
		err = d.v.Eval(rec, nil, arrow.Float64Traits.CastFromBytes(vals.Bytes())[:n], d.null)
	} else {
		err = d.v.Eval(rec, arrow.Int64Traits.CastFromBytes(vals.Bytes())[:n], nil, d.null)
	}
	if err != nil {
		return nil, err
	}
	nulls := 0
	for _, isNull := range d.null {
		if isNull {
			nulls++
		}
	}
	var valid *memory.Buffer
	if nulls > 0 {
		valid = memory.NewResizableBuffer(d.mem)
		defer valid.Release()
		valid.Resize(int(bitutil.BytesForBits(int64(n))))
		bits := valid.Bytes()
		clear(bits)
		for i, isNull := range d.null {
			if !isNull {
				bitutil.SetBit(bits, i)
			}
		}
	}
	typ := d.out.Field(d.out.NumFields() - 1).Type
	data := array.NewData(typ, n, []*memory.Buffer{valid, vals}, nil, nulls, 0)
	defer data.Release()
	return array.MakeFromData(data), nil
}

// Counters reports rows, the rows passed on.
func (d *DeriveOperator) Counters() map[string]int64 { return map[string]int64{"rows": d.rows} }
