// Package dynamostore implements featurestore.Store on DynamoDB
// (dynamodb://TABLE), in shardflow's native layout or, with
// layout=feast&project=NAME, in Feast's.
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
// error. A throttled PutItem (ProvisionedThroughputExceeded, Throttling,
// RequestLimitExceeded) is retried by the SDK's standard retryer and then by
// the store, up to 8 times more with a backoff of 10ms doubling to 1s, before
// Put fails.
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
// table per Open; the TTL API and UnprocessedKeys are not exercised there.
// Throttling is, by an HTTP client in front of dynalite that refuses PutItems
// as DynamoDB does.
//
// # Feast layout
//
// With layout=feast&project=NAME the store writes the items of Feast's
// DynamoDB online store (feast-dev/feast sdk/python/feast/infra/
// online_stores/dynamodb.py; the encodings are in package feast), so Feast
// configured with the same project and feature view reads them with no copy
// job. The URL's TABLE is Feast's table_name_template, with {project} and
// {table_name} (the view) replaced: dynamodb://{project}.{table_name} is
// Feast's default; a template without {table_name} is refused. The table,
// created by Open as Feast's update() creates it if missing (PAY_PER_REQUEST,
// partition key entity_id S, no sort key), holds one item per entity:
//
//	entity_id            S  hex of MurmurHash3 x64_128 of the entity key
//	                        (serialization v3), as compute_entity_id
//	event_ts             S  Python's str() of the UTC event time,
//	                        "2023-11-14 22:13:20.123000+00:00"
//	values               M  feature name -> B, the feast.types.Value
//	                        protobuf; a null is the empty Value (empty B), as
//	                        Feast writes None
//	shardflow_event_ms   N  the event time, Unix ms
//	shardflow_revision   N  the revision
//	shardflow_expires_at N  Unix seconds, event time + TTL; only with a TTL,
//	                        and DynamoDB's TTL is turned on for it as in the
//	                        native layout
//
// Feast reads entity_id, event_ts and values (a projection of them, or the
// whole item of which it reads them) and ignores the shardflow_ attributes.
// Timestamp features are Value.unix_timestamp_val, whole seconds (truncated
// toward zero), so they read back without their milliseconds.
//
// The PutItem condition is attribute_not_exists(entity_id) OR (the stored
// (shardflow_event_ms, shardflow_revision) is not newer) OR (there is no
// shardflow_event_ms, as in an item Feast's materialization wrote, whose
// PutItem replaces the whole item, and the stored event_ts <= the row's):
// event_ts strings of UTC times sort as the times do, since they are fixed
// width up to the seconds and the "+" of a whole second sorts before the "."
// of a fraction. Get maps each entity to its entity_id, reads Feast's items
// too (event time from event_ts, revision 0) and takes a feature missing from
// values as null. Feast's update_online_store (an UpdateItem of some
// features) keeps the shardflow_ attributes of an older write; the condition
// then compares against them.
package dynamostore
