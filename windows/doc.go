// Package windows provides event-time windowed aggregations over Arrow record
// batches: window assigners (Tumbling, Sliding), session windows (Session),
// mergeable aggregations (Count, CountIf, Sum, SumIf, Min, Max, Avg,
// CountDistinct, First, Last, AnyIf for sessions; the sketches
// ApproxCountDistinct, Quantile and TopK; user-defined ones through Custom
// and AggFunc) and the keyed operators that run them where a job's shards
// meet.
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
// then per key, and merges the shards' partials when a window fires. Sliding
// windows are kept as panes of their slide, each row in one pane, and a
// window merges its panes when it fires (panes.go). Every
// aggregate is mergeable (counts and sums add, min and max compare, avg is a
// sum and a count, exact distinct is a set, first and last keep the event
// time of their value, the sketches merge as sketches do and a Custom
// aggregate's AggState has a Merge), which is what lets a shard's
// state move with its lease to another worker later. Snapshot encodes the
// whole state in a compact, versioned, checksummed binary form; custom
// states go in it through their MarshalBinary.
//
// # User-defined aggregations
//
// Custom(name, col, f) runs an AggFunc: f.Type binds it to the column's type,
// f.New makes a state per shard, window and key, whose Add takes the
// column's array and the rows of the group in a batch (columnar, nulls
// skipped), Merge folds in another shard's state, Result appends the value to
// an Arrow builder, and MarshalBinary and UnmarshalBinary carry it through
// checkpoints. ApproxCountDistinct, Quantile and TopK are built on it; see
// ExampleCustom for a product.
//
// # Late rows
//
// A row is late when one of its windows ends at or before its own shard's
// watermark: the highest event time of the shard up to that row (as the
// runtime gives it with each batch, Batch.Before, then row by row) minus
// the job's out-of-orderness bound (OperatorEnv.Bound). That depends on
// the shard's records alone, not on how fast the other shards are read, so
// a bounded input has the same late rows, and the same output, on every run
// and after every restart. A window fires once the job's watermark, the
// lowest of the shards', reaches its end, so no shard can add an on-time
// row to a fired window, except a shard that was idle (released from the
// watermark) and sends again: its rows for fired windows are late too. A
// late row is dropped and counted in the "late_rows" counter. With sliding
// windows a row is dropped only from its late windows, and counted as late
// when all of its windows are. Rows without an event time (null) are
// dropped and counted in "null_time_rows". With AllowedLateness, a row is
// late only when its window ended more than the allowed lateness before
// that watermark; rows less late correct the window (below).
//
// # Allowed lateness and revisions
//
//	windows.Tumbling(time.Minute).Aggregate(windows.Count("events")).
//		AllowedLateness(10 * time.Minute).RevisionEvery(time.Minute)
//
// keeps each window's state for 10 minutes of event time after it fires.
// The output gets an int64 column "revision" (ColRevision), last: a window
// fires with revision 0 when the job's watermark reaches its end, as
// without lateness. A row whose window ends at or before its shard's
// watermark c (as above, or the job's watermark if higher), but less than
// the lateness before, belongs to step k = (c - end)/every + 1; when the
// job's watermark reaches end + k·every, the stage emits, for every key
// that rows of step k touched, its corrected row (all the window's rows
// so far) with revision k. Past end + lateness the window is dropped, and
// rows for it are late. A row's step depends on its own shard's records
// only, and every row of step k arrives before the watermark reaches
// end + k·every, so a bounded input gives the same rows, every revision
// included, on every run and after every restart; the end of a bounded
// input emits revision 0 then the corrections in order. The kept windows
// and the corrections' state are in the snapshots (version 3).
//
// A sink therefore gets several rows per window and key: readers take the
// one with the highest revision, e.g. in DuckDB
//
//	SELECT * FROM 'out/*.parquet'
//	QUALIFY row_number() OVER (PARTITION BY window_start, page ORDER BY revision DESC) = 1
//
// and a feature store that overwrites by key keeps the last. A correction
// merges the whole window again for the keys it changed. A stage that
// allows lateness does not spill its distinct values under a state limit
// (it fails over the limit instead). Session windows do not allow lateness,
// nor, yet, sliding windows of more than one window per row (on panes).
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
