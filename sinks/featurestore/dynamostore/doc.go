// Package dynamostore implements featurestore.Store on DynamoDB
// (dynamodb://TABLE), in shardflow's native layout. The Feast layout
// (layout=feast) is not implemented yet: Open refuses it.
//
// Native layout: the table loc.Target, created by Open (PAY_PER_REQUEST) if
// it is missing, with partition key entity_id (S) and sort key view (S), so
// that several views share a table; Open waits until the table is ACTIVE and
// refuses a table with other keys. Each item holds event_ts (N, Unix
// milliseconds), revision (N, Row.Revision), one attribute per feature and, when the view has a TTL,
// expires_at (N, Unix seconds: event time + TTL). A null is an absent
// attribute. Int64 and Timestamp values are N; String values are S;
// Float64 values are N, except those DynamoDB's Number cannot hold (NaN,
// infinities, magnitudes outside 1e-130..1e126), which are B (8 bytes, IEEE
// 754 big-endian). Feature names entity_id, view, event_ts, revision and
// expires_at are refused.
//
// Writes: BatchWriteItem takes no condition expressions, so it cannot keep
// an older row from replacing a newer one. Put sends one conditional PutItem
// per row (attribute_not_exists(entity_id) OR event_ts < :t OR (event_ts = :t
// AND revision <= :r)), up to 16 in
// flight. ConditionalCheckFailed means the stored row is newer and is not an
// error. Throttling is retried by the SDK's standard retryer only (raise its
// MaxAttempts through Open's optFns); there is no retry of its own.
//
// Reads: Get uses strongly consistent BatchGetItem calls of up to 100 keys
// (duplicate entities are asked once), retries UnprocessedKeys with backoff
// (10ms doubling to 1s), and drops rows whose event time + TTL has passed.
//
// Expiry: with a TTL, Open turns on DynamoDB's TTL on expires_at
// (DescribeTimeToLive, then UpdateTimeToLive) unless it is on already, and
// refuses a table whose TTL is on another attribute. A server without the
// TTL API (dynalite answers UpdateTimeToLive with UnknownOperationException)
// is tolerated; Get filters expired rows either way.
//
// The client is configured as config.LoadDefaultConfig does, then by Open's
// optFns. The tests run against dynalite (testenv.Dynalite), with a fresh
// table per Open; the TTL API, throttling and UnprocessedKeys are not
// exercised there.
//
// Planned for the feast layout: table <project>.<view>, entity_id S,
// event_ts S in Feast's format, values M of feature -> B (Value protobuf).
// If Feast's event_ts string does not sort lexically, keep an extra numeric
// attribute for the condition.
package dynamostore
