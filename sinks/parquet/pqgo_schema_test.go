package parquet

import (
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	pq "github.com/parquet-go/parquet-go"
)

// column is how one Arrow field is written: its Parquet leaf and repetition.
type column struct {
	name     string
	typ      arrow.DataType
	leaf     int // the Parquet leaf column index
	optional bool
}

// parquetSchema maps an Arrow schema to a Parquet schema whose columns keep
// the Arrow field order.
func parquetSchema(schema *arrow.Schema) (*pq.Schema, []column, error) {
	group := make(pq.Group, schema.NumFields())
	order := make([]string, 0, schema.NumFields())
	for _, f := range schema.Fields() {
		if _, dup := group[f.Name]; dup {
			return nil, nil, fmt.Errorf("parquet: duplicate column %q", f.Name)
		}
		node, err := parquetNode(f.Type)
		if err != nil {
			return nil, nil, fmt.Errorf("parquet: column %q: %w", f.Name, err)
		}
		if f.Nullable {
			node = pq.Optional(node)
		} else {
			node = pq.Required(node)
		}
		group[f.Name] = node
		order = append(order, f.Name)
	}
	ps := pq.NewSchema("schema", orderedGroup{Group: group, fields: orderFields(group, order)})
	cols := make([]column, schema.NumFields())
	for i, f := range schema.Fields() {
		leaf, ok := ps.Lookup(f.Name)
		if !ok {
			return nil, nil, fmt.Errorf("parquet: column %q missing from the Parquet schema", f.Name)
		}
		cols[i] = column{name: f.Name, typ: f.Type, leaf: leaf.ColumnIndex, optional: f.Nullable}
	}
	return ps, cols, nil
}

func parquetNode(t arrow.DataType) (pq.Node, error) {
	switch t := t.(type) {
	case *arrow.StringType:
		return pq.String(), nil
	case *arrow.BinaryType:
		return pq.Leaf(pq.ByteArrayType), nil
	case *arrow.Int32Type:
		return pq.Int(32), nil
	case *arrow.Int64Type:
		return pq.Int(64), nil
	case *arrow.Float32Type:
		return pq.Leaf(pq.FloatType), nil
	case *arrow.Float64Type:
		return pq.Leaf(pq.DoubleType), nil
	case *arrow.BooleanType:
		return pq.Leaf(pq.BooleanType), nil
	case *arrow.Date32Type:
		return pq.Date(), nil
	case *arrow.TimestampType:
		unit, err := timeUnit(t.Unit)
		if err != nil {
			return nil, err
		}
		// Arrow timestamps with a time zone are instants (UTC-normalised);
		// without one they are wall-clock times.
		return pq.TimestampAdjusted(unit, t.TimeZone != ""), nil
	}
	return nil, fmt.Errorf("unsupported Arrow type %s (supported: utf8, binary, int32, int64, float32, float64, bool, date32, timestamp[ms|us|ns])", t)
}

func timeUnit(u arrow.TimeUnit) (pq.TimeUnit, error) {
	switch u {
	case arrow.Millisecond:
		return pq.Millisecond, nil
	case arrow.Microsecond:
		return pq.Microsecond, nil
	case arrow.Nanosecond:
		return pq.Nanosecond, nil
	}
	return nil, fmt.Errorf("unsupported timestamp unit %s (Parquet has ms, us and ns)", u)
}

// orderedGroup is a Parquet group whose fields come in the Arrow schema's
// order; parquet-go's Group sorts them by name.
type orderedGroup struct {
	pq.Group
	fields []pq.Field
}

func orderFields(g pq.Group, order []string) []pq.Field {
	fields := slices.Clone(g.Fields())
	rank := make(map[string]int, len(order))
	for i, name := range order {
		rank[name] = i
	}
	slices.SortFunc(fields, func(a, b pq.Field) int { return rank[a.Name()] - rank[b.Name()] })
	return fields
}

func (g orderedGroup) Fields() []pq.Field { return g.fields }
