// Package windows provides event-time windowed aggregations over Arrow record
// batches: window assigners (Tumbling, Sliding), session windows (Session),
// mergeable aggregations (Count, CountIf, Sum, SumIf, Min, Max, Avg,
// CountDistinct, First, Last, and AnyIf for sessions) and the keyed operators
// that run them where a job's shards meet.
//
//	windows.Tumbling(time.Minute).Aggregate(
//		windows.Count("events"),
//		windows.CountIf("page_views", expr.Eq("event_type", "page_view")),
//		windows.SumIf("revenue", "price", expr.Eq("event_type", "purchase")),
//		windows.CountDistinct("unique_users", "user_id"))
//
// is a pipeline.WindowSpec; the DSL's Window step turns it into the job's keyed
// stage with KeyedStage(keys, eventTime).
//
// # Output
//
// Each fired window yields one row per key: window_start and window_end
// (timestamp[ms, UTC], the window is [start, end)), the key columns, then the
// aggregates in the order given. A watermark emits one batch holding every
// window it completes, sorted by (window_start, keys), so output is
// deterministic.
//
// # State
//
// The operator keeps partial aggregates per source shard, then per window,
// then per key, and merges the shards' partials when a window fires. Every
// aggregate is mergeable (counts and sums add, min and max compare, avg is a
// sum and a count, exact distinct is a set, first and last keep the event
// time of their value), which is what lets a shard's
// state move with its lease to another worker later. Snapshot encodes the
// whole state in a compact, versioned, checksummed binary form.
//
// # Late rows
//
// A window fires once the watermark reaches its end. A row that arrives for a
// window that has already fired (window end <= watermark) is late: it is
// dropped and counted in the "late_rows" counter. With sliding windows a row
// is dropped only from the windows that have fired, and counted as late when
// all of its windows have. Rows without an event time (null) are dropped and
// counted in "null_time_rows".
//
// # Sessions
//
//	windows.Session(30*time.Minute).Aggregate(
//		windows.Count("events"),
//		windows.First("landing_page", "page"),
//		windows.AnyIf("converted", expr.Eq("event_type", "purchase")))
//
// groups each key's rows into sessions: rows at most the gap apart, directly
// or through other rows of the key, are one session [first, last event time].
// Its output rows are the key columns, session_start and session_end
// (timestamp[ms, UTC], both included), then the aggregates; a watermark emits
// the sessions it closes sorted by (session_start, keys). A session closes
// once the watermark passes last+gap. A row that comes within the gap of two
// open sessions merges them and their partial aggregates. As in Flink, a row
// is late (dropped, counted in "late_rows") when its session, after merging
// with the key's open sessions, would already have closed: last+gap <
// watermark. The state is partial sessions per source shard, merged across
// shards, chained by the gap, when they close; the snapshot holds one part
// per shard. Session windows take every aggregate; their First and Last also
// take string columns, and a CountDistinct keeps a sorted set of value ids
// per partial session.
package windows
