// Package expr holds row predicates over Arrow record batches, shared by
// filtering operators and filtered aggregations: expr.Eq("event_type",
// "purchase"), expr.And(...), and so on. A predicate is bound to a schema once,
// when a job is built, so that an unknown column or a wrong type fails before
// any record is read.
//
// Values are typed by their Go type: a string fits utf8 and large_utf8
// columns, a Go integer fits integer and float columns, a float fits float
// columns, a bool fits bool columns, and a time.Time or an integer number of
// milliseconds since the epoch fits timestamp columns.
//
// Evaluation is column at a time over the Arrow arrays and follows SQL's
// three-valued logic: a comparison with a null is unknown, and a row whose
// predicate is unknown does not match, not even under Not. So
// Not(Eq("page", "/home")) matches neither "/home" nor a null page.
package expr
