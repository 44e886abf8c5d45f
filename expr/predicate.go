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

// BindShared binds preds to schema once per distinct predicate (by String),
// for an operator that evaluates each once per batch however many of its
// aggregates share it: bound holds the distinct ones, and of[i] is the index
// in bound of preds[i], -1 for a nil one. On error, i names the predicate.
func BindShared(preds []Predicate, schema *arrow.Schema) (bound []Bound, of []int, i int, err error) {
	of = make([]int, len(preds))
	seen := map[string]int{}
	for i, p := range preds {
		of[i] = -1
		if p == nil {
			continue
		}
		s := p.String()
		if j, ok := seen[s]; ok {
			of[i] = j
			continue
		}
		b, err := p.Bind(schema)
		if err != nil {
			return nil, nil, i, err
		}
		seen[s] = len(bound)
		of[i] = len(bound)
		bound = append(bound, b)
	}
	return bound, of, 0, nil
}
