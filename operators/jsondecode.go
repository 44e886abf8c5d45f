package operators

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// fieldKind is how the decoder reads and stores one declared column.
type fieldKind uint8

const (
	kindString fieldKind = iota + 1
	kindInt64
	kindFloat64
	kindBool
	kindTimestamp
)

// jsonField is one declared column as the decoder sees it.
type jsonField struct {
	name     string
	kind     fieldKind
	required bool
}

func jsonFields(schema *arrow.Schema, required []string) ([]jsonField, error) {
	fields := make([]jsonField, schema.NumFields())
	index := make(map[string]int, len(fields))
	for i, f := range schema.Fields() {
		if _, dup := index[f.Name]; dup {
			return nil, fmt.Errorf("operators: json: column %q declared twice", f.Name)
		}
		index[f.Name] = i
		fields[i].name = f.Name
		switch t := f.Type.(type) {
		case *arrow.StringType:
			fields[i].kind = kindString
		case *arrow.Int64Type:
			fields[i].kind = kindInt64
		case *arrow.Float64Type:
			fields[i].kind = kindFloat64
		case *arrow.BooleanType:
			fields[i].kind = kindBool
		case *arrow.TimestampType:
			if t.Unit != arrow.Millisecond {
				return nil, fmt.Errorf("operators: json: column %q is %s; timestamps decode as timestamp[ms]", f.Name, f.Type)
			}
			fields[i].kind = kindTimestamp
		default:
			return nil, fmt.Errorf("operators: json: column %q has type %s; supported: utf8, int64, float64, bool, timestamp[ms]", f.Name, f.Type)
		}
	}
	for _, r := range required {
		i, ok := index[r]
		if !ok {
			return nil, fmt.Errorf("operators: json: required field %q is not a column of the schema", r)
		}
		fields[i].required = true
	}
	return fields, nil
}

// slotState says what a record held for a field.
type slotState uint8

const (
	slotMissing slotState = iota
	slotNull
	slotSet
)

// slot holds one field's value of the record being decoded, until commit
// appends the whole record to the builders.
type slot struct {
	state slotState
	b     bool
	i     int64 // int64 and timestamp values
	f     float64
	s     []byte // valid until the parser's next record
}

// fieldError is why a record was rejected. It is only turned into an error
// value on the rejection path.
type fieldError struct {
	field  string
	reason string
}

// decoder fills one slot per declared field from a record's key/value pairs,
// then appends the record to the builders. It allocates nothing per record.
type decoder struct {
	fields []jsonField
	slots  []slot
	fail   fieldError
	failed bool

	str  []*array.BinaryBuilder // by field; nil if not a string column
	i64  []*array.Int64Builder
	f64  []*array.Float64Builder
	bol  []*array.BooleanBuilder
	ts   []*array.TimestampBuilder
	fldb []array.Builder

	rows     int
	strBytes []float64 // string bytes per row by field, from the last batch
}

func newDecoder(fields []jsonField, rb *array.RecordBuilder) *decoder {
	n := len(fields)
	d := &decoder{
		fields: fields,
		slots:  make([]slot, n),
		str:    make([]*array.BinaryBuilder, n),
		i64:    make([]*array.Int64Builder, n),
		f64:    make([]*array.Float64Builder, n),
		bol:    make([]*array.BooleanBuilder, n),
		ts:     make([]*array.TimestampBuilder, n),
		fldb:   make([]array.Builder, n),
	}
	for i, f := range fields {
		b := rb.Field(i)
		d.fldb[i] = b
		switch f.kind {
		case kindString:
			d.str[i] = b.(*array.StringBuilder).BinaryBuilder
		case kindInt64:
			d.i64[i] = b.(*array.Int64Builder)
		case kindFloat64:
			d.f64[i] = b.(*array.Float64Builder)
		case kindBool:
			d.bol[i] = b.(*array.BooleanBuilder)
		case kindTimestamp:
			d.ts[i] = b.(*array.TimestampBuilder)
		}
	}
	return d
}

// reserve sizes the builders for a batch of rows records of dataBytes bytes,
// so that appends never reallocate: each string column gets the bytes per
// row it needed in the previous batch plus an eighth, and before any batch
// an equal share of the payload.
func (d *decoder) reserve(rows, dataBytes int) {
	if d.strBytes == nil {
		d.strBytes = make([]float64, len(d.fields))
		nstr := 0
		for _, f := range d.fields {
			if f.kind == kindString {
				nstr++
			}
		}
		for i, f := range d.fields {
			if f.kind == kindString && rows > 0 {
				d.strBytes[i] = float64(dataBytes) / float64(nstr*rows)
			}
		}
	}
	d.rows = rows
	for i, f := range d.fields {
		d.fldb[i].Reserve(rows)
		if f.kind == kindString {
			d.str[i].ReserveData(int(d.strBytes[i]*float64(rows)*1.125) + 64)
		}
	}
}

// learn records the string bytes per row of the batch just built; call it
// before NewRecordBatch resets the builders.
func (d *decoder) learn() {
	for i, f := range d.fields {
		if f.kind == kindString {
			if n := d.str[i].Len(); n > 0 {
				d.strBytes[i] = float64(d.str[i].DataLen()) / float64(n)
			}
		}
	}
}

func (d *decoder) begin() {
	for i := range d.slots {
		d.slots[i].state = slotMissing
	}
	d.failed = false
}

// lookup finds the declared field named key; schemas are small, so a linear
// scan beats hashing.
func (d *decoder) lookup(key []byte) int {
	for i := range d.fields {
		if d.fields[i].name == string(key) {
			return i
		}
	}
	return -1
}

func (d *decoder) reject(i int, reason string) {
	if !d.failed {
		d.failed = true
		d.fail = fieldError{field: d.fields[i].name, reason: reason}
	}
}

// end checks the record once every key is seen.
func (d *decoder) end() error {
	if !d.failed {
		for i := range d.fields {
			if !d.fields[i].required {
				continue
			}
			switch d.slots[i].state {
			case slotMissing:
				return fmt.Errorf("json: required field %q is missing", d.fields[i].name)
			case slotNull:
				return fmt.Errorf("json: required field %q is null", d.fields[i].name)
			}
		}
		return nil
	}
	return fmt.Errorf("json: field %q: %s", d.fail.field, d.fail.reason)
}

// commit appends the decoded record to the builders.
func (d *decoder) commit() {
	for i := range d.fields {
		s := &d.slots[i]
		if s.state != slotSet {
			d.fldb[i].AppendNull()
			continue
		}
		switch d.fields[i].kind {
		case kindString:
			d.str[i].Append(s.s)
		case kindInt64:
			d.i64[i].UnsafeAppend(s.i)
		case kindFloat64:
			d.f64[i].UnsafeAppend(s.f)
		case kindBool:
			d.bol[i].UnsafeAppend(s.b)
		case kindTimestamp:
			d.ts[i].UnsafeAppend(arrow.Timestamp(s.i))
		}
	}
}

// clip shortens a value quoted in an error message.
func clip(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
