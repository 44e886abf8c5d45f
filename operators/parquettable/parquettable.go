package parquettable

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/shardflow/shardflow/operators"
)

// File returns the table in the Parquet file at path, with the Arrow types
// that pqarrow gives its columns (the Arrow schema stored in the file, when
// there is one).
func File(path string) operators.Table { return fileTable(path) }

type fileTable string

var _ operators.Table = fileTable("")

func (t fileTable) Path() string { return string(t) }

// Load reads the file once, hashes those bytes and decodes them, so the hash
// is of what was loaded; row groups are concatenated into one record batch.
func (t fileTable) Load(mem memory.Allocator) (arrow.RecordBatch, [sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	data, err := os.ReadFile(string(t))
	if err != nil {
		return nil, sum, err
	}
	sum = sha256.Sum256(data)
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		return nil, sum, fmt.Errorf("parquet: %w", err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, mem)
	if err != nil {
		return nil, sum, fmt.Errorf("parquet: %w", err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		return nil, sum, fmt.Errorf("parquet: %w", err)
	}
	defer tbl.Release()
	cols := make([]arrow.Array, tbl.NumCols())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i := range cols {
		chunks := tbl.Column(i).Data().Chunks()
		switch len(chunks) {
		case 1:
			chunks[0].Retain()
			cols[i] = chunks[0]
		case 0:
			cols[i] = array.MakeArrayOfNull(mem, tbl.Schema().Field(i).Type, 0)
		default:
			if cols[i], err = array.Concatenate(chunks, mem); err != nil {
				return nil, sum, fmt.Errorf("parquet: column %q: %w", tbl.Schema().Field(i).Name, err)
			}
		}
	}
	return array.NewRecordBatch(tbl.Schema(), cols, tbl.NumRows()), sum, nil
}
