package operators

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
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
// appends the whole record to the columns.
type slot struct {
	state slotState
	b     bool
	i     int64 // int64 and timestamp values
	f     float64
	l     int32 // length of the string staged in the field's column
}

// decoder fills one slot per declared field from a record's key/value pairs,
// then appends the record to its columns. It allocates nothing per record.
type decoder struct {
	fields []jsonField
	slots  []slot
	cols   []column
}

func newDecoder(schema *arrow.Schema, fields []jsonField) *decoder {
	d := &decoder{fields: fields, slots: make([]slot, len(fields)), cols: make([]column, len(fields))}
	for i, f := range fields {
		d.cols[i] = column{kind: f.kind, dt: schema.Field(i).Type}
	}
	return d
}

// reserve readies the columns for a batch of up to rows records.
func (d *decoder) reserve(rows int) {
	for i := range d.cols {
		d.cols[i].reset(rows)
	}
}

// staging is the bytes the decoder's columns hold between batches.
func (d *decoder) staging() int {
	n := 0
	for i := range d.cols {
		c := &d.cols[i]
		n += cap(c.valid) + 8*cap(c.i64) + 8*cap(c.f64) + cap(c.bits) + 4*cap(c.offs) + cap(c.data)
	}
	return n
}

// build returns the records committed since reserve as a batch of schema.
func (d *decoder) build(mem memory.Allocator, schema *arrow.Schema) arrow.RecordBatch {
	arrs := make([]arrow.Array, len(d.cols))
	for i := range d.cols {
		arrs[i] = d.cols[i].build(mem)
	}
	rec := array.NewRecordBatch(schema, arrs, int64(d.cols[0].n))
	for _, a := range arrs {
		a.Release()
	}
	return rec
}

func (d *decoder) begin() {
	for i := range d.slots {
		d.slots[i].state = slotMissing
	}
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

// end checks the required fields once every key is seen.
func (d *decoder) end() error {
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

// commit appends the decoded record to the columns.
func (d *decoder) commit() {
	for i := range d.cols {
		if s := &d.slots[i]; s.state == slotSet {
			d.cols[i].appendSlot(s)
		} else {
			d.cols[i].appendNull()
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
