// Package expr holds row predicates over Arrow record batches, shared by
// filtering operators and filtered aggregations: expr.Eq("event_type",
// "purchase"), expr.And(...), and so on. A predicate is bound to a schema once,
// when a job is built, so that an unknown column or a wrong type fails before
// any record is read.
package expr
