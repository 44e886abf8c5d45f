package kinesis

import "github.com/shardflow/shardflow/internal/kpl"

// isAggregated reports whether data carries the KPL magic prefix.
func isAggregated(data []byte) bool { return kpl.IsAggregated(data) }

// deaggregate calls fn for each user record of the KPL aggregate data with its
// sub-sequence number (from 0); a corrupt aggregate returns an error before fn
// is first called.
func deaggregate(data []byte, fn func(sub int64, partitionKey string, data []byte) error) error {
	return kpl.Deaggregate(data, fn)
}
