package operators

import (
	"bytes"
	"crypto/sha256"
	stdcsv "encoding/csv"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/csv"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// CSVTable returns the table in the CSV file at path, for Enrich. Its first
// line is a header that names the columns. types declares the Arrow type of
// columns by name (bool, integers, floats, utf8, timestamps, date32, date64);
// every other column is read as a string (utf8), so a table joined on an
// integer key declares its key's type. An empty cell of a declared
// non-string column is null; strings are never null. A declared column that
// the header lacks, or a cell that does not parse as its type, fails the
// load.
func CSVTable(path string, types map[string]arrow.DataType) Table {
	return &csvTable{path: path, types: maps.Clone(types)}
}

type csvTable struct {
	path  string
	types map[string]arrow.DataType
}

func (t *csvTable) Path() string { return t.path }

// Load reads the file once, hashes those bytes and parses them, so the hash
// is of what was loaded.
func (t *csvTable) Load(mem memory.Allocator) (arrow.RecordBatch, [sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	data, err := os.ReadFile(t.path)
	if err != nil {
		return nil, sum, err
	}
	sum = sha256.Sum256(data)
	header, err := stdcsv.NewReader(bytes.NewReader(data)).Read()
	if err != nil {
		return nil, sum, fmt.Errorf("csv header: %w", err)
	}
	fields := make([]arrow.Field, len(header))
	seen := make(map[string]bool, len(header))
	for i, name := range header {
		if seen[name] {
			return nil, sum, fmt.Errorf("csv header names column %q twice", name)
		}
		seen[name] = true
		typ, ok := t.types[name]
		if !ok {
			typ = arrow.BinaryTypes.String
		} else if !csvTypeSupported(typ) {
			return nil, sum, fmt.Errorf("column %q: type %s cannot be read from CSV here (want bool, an integer, a float, utf8, a timestamp, date32 or date64)", name, typ)
		}
		fields[i] = arrow.Field{Name: name, Type: typ, Nullable: true}
	}
	for _, name := range slices.Sorted(maps.Keys(t.types)) {
		if !seen[name] {
			return nil, sum, fmt.Errorf("declared column %q not in the csv header (have: %s)", name, strings.Join(header, ", "))
		}
	}
	schema := arrow.NewSchema(fields, nil)
	r := csv.NewReader(bytes.NewReader(data), schema,
		csv.WithHeader(true), csv.WithChunk(-1), csv.WithAllocator(mem), csv.WithNullReader(false, ""))
	defer r.Release()
	if !r.Next() {
		if err := r.Err(); err != nil {
			return nil, sum, err
		}
		// A header alone: an empty table.
		return emptyRecord(mem, schema), sum, nil
	}
	if err := r.Err(); err != nil {
		return nil, sum, err
	}
	rec := r.RecordBatch()
	rec.Retain()
	if r.Next() || r.Err() != nil {
		rec.Release()
		return nil, sum, errors.Join(errors.New("csv: more than one chunk"), r.Err())
	}
	return rec, sum, nil
}

func csvTypeSupported(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.BOOL, arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT32, arrow.FLOAT64, arrow.STRING, arrow.LARGE_STRING,
		arrow.TIMESTAMP, arrow.DATE32, arrow.DATE64:
		return true
	}
	return false
}

// emptyRecord returns a record of schema with no rows.
func emptyRecord(mem memory.Allocator, schema *arrow.Schema) arrow.RecordBatch {
	cols := make([]arrow.Array, schema.NumFields())
	for i, f := range schema.Fields() {
		cols[i] = array.MakeArrayOfNull(mem, f.Type, 0)
		defer cols[i].Release()
	}
	return array.NewRecordBatch(schema, cols, 0)
}
