// Package dynamostore will implement featurestore.Store on DynamoDB
// (dynamodb://TABLE). NOT IMPLEMENTED YET: this file only records the
// planned design so the next engineer can start from it.
//
// Planned design:
//
//   - Writes: BatchWriteItem takes no condition expressions, so it cannot
//     keep an older row from replacing a newer one. Put sends conditional
//     PutItem calls (attribute_not_exists(entity_id) OR event_ts <= :ts),
//     several in flight at once (bounded). ConditionalCheckFailed means the
//     stored row is newer and is not an error. Throttling is retried with
//     backoff (SDK retryer plus own retry for ProvisionedThroughputExceeded).
//   - Reads: BatchGetItem, 100 keys per call, UnprocessedKeys retried;
//     items whose expires_at (epoch seconds) has passed are filtered out.
//   - TTL: attribute expires_at on each item; UpdateTimeToLive is attempted
//     and an "unsupported" error (dynalite) is tolerated.
//   - native layout: table = loc.Target (created PAY_PER_REQUEST if missing),
//     key entity_id S + view S (sort key) so views can share a table;
//     event_ts N (unix ms), one attribute per feature (N or S, absent = null).
//   - feast layout: table <project>.<view>, entity_id S, event_ts S in
//     Feast's format, values M of feature -> B (Value protobuf). If Feast's
//     event_ts string does not sort lexically, keep an extra numeric
//     attribute for the condition.
package dynamostore
