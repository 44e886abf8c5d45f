package parquet

import (
	"errors"
	"fmt"
	"strings"
)

// Defaults of Config.
const (
	DefaultPartitionBy  = "window_start"
	DefaultRowGroupRows = 1 << 17
	DefaultCompression  = "zstd"
	// DefaultMaxOpenPartitions bounds the partitions a sink writes at once.
	DefaultMaxOpenPartitions = 64
)

// Config configures a Sink.
type Config struct {
	// Name identifies the sink in checkpoints; default "parquet:" + Table.
	Name string
	// Dir is the root of the tables; the sink writes under Dir/Table.
	Dir string
	// Table is the table's directory name under Dir.
	Table string
	// PartitionBy is the timestamp column whose UTC date and hour partition the
	// table (dt=YYYY-MM-DD/hour=HH); default "window_start".
	PartitionBy string
	// RowGroupRows is the flush size: a partition that has buffered this many
	// rows writes them as one row group. Default 1<<17 (DefaultRowGroupRows).
	RowGroupRows int
	// MaxOpenPartitions bounds the partitions (hours) that have a file open
	// for writing; default 64. Each buffers up to RowGroupRows rows, so this
	// caps the sink's memory when a checkpoint's rows spread over many hours
	// of event time (a replay, late data). Opening one more finishes the file
	// of the least recently written partition; later rows of that hour go to
	// a new file of the same checkpoint.
	MaxOpenPartitions int
	// Compression is the page codec: "zstd" (default), "snappy", "gzip",
	// "lz4" or "none".
	Compression string
}

func (c *Config) withDefaults() Config {
	d := *c
	if d.PartitionBy == "" {
		d.PartitionBy = DefaultPartitionBy
	}
	if d.RowGroupRows == 0 {
		d.RowGroupRows = DefaultRowGroupRows
	}
	if d.MaxOpenPartitions == 0 {
		d.MaxOpenPartitions = DefaultMaxOpenPartitions
	}
	if d.Compression == "" {
		d.Compression = DefaultCompression
	}
	if d.Name == "" {
		d.Name = "parquet:" + d.Table
	}
	return d
}

// Validate checks the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("parquet: Dir is empty"))
	}
	if c.Table == "" || c.Table == "." || c.Table == ".." || strings.ContainsAny(c.Table, `/\`) || strings.HasPrefix(c.Table, ".") {
		errs = append(errs, fmt.Errorf("parquet: Table %q is not a plain directory name", c.Table))
	}
	if c.RowGroupRows < 0 {
		errs = append(errs, fmt.Errorf("parquet: RowGroupRows %d is negative", c.RowGroupRows))
	}
	if c.MaxOpenPartitions < 0 {
		errs = append(errs, fmt.Errorf("parquet: MaxOpenPartitions %d is negative", c.MaxOpenPartitions))
	}
	if _, err := arrowCodec(c.Compression); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
