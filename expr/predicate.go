package expr

import "github.com/apache/arrow-go/v18/arrow"

// Predicate is a condition on the rows of record batches of some schema.
type Predicate interface {
	// String renders the predicate as it reads, e.g. `event_type = "purchase"`;
	// it is part of a job's fingerprint.
	String() string
	// Bind checks the predicate against schema (columns exist, types fit) and
	// returns its evaluator for batches of that schema.
	Bind(schema *arrow.Schema) (Bound, error)
}

// Bound evaluates a predicate over batches of the schema it was bound to. It
// is used by one goroutine at a time.
type Bound interface {
	// Match returns, for every row of rec, whether the row satisfies the
	// predicate; a null never does. It reuses dst when it is long enough.
	Match(rec arrow.RecordBatch, dst []bool) []bool
}
