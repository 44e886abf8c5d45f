// Package generator is a pipeline.Source of synthetic clickstream events for
// demos, tests and benchmarks.
//
// Every record is a pure function of (Seed, shard, index): the generator uses a
// counter-based random number generator (splitmix64 over a mix of the three),
// never a sequential one. A shard reader opened after Position{N: k} therefore
// produces exactly the records k+1, k+2, ... of an uninterrupted run, and a
// producer (Reference.Append) or a test can compute any record without reading
// the ones before it.
//
// An event is one JSON object per record:
//
//	{"event_id":"e0001-42","user_id":"u0421","session_id":"s3f09c2a17b64",
//	 "event_type":"add_to_cart","page":"/product/104","referrer":"https://www.google.com/",
//	 "ts":"2026-01-01T00:00:00.410Z","price":24.99}
//
// ClickstreamSchema is its Arrow schema. Users (NumUsers of them) are skewed: a
// few are much more active than the rest, and each user belongs to one shard, as
// a Kinesis partition key would. Event types are about 80% page_view, 15%
// add_to_cart and 5% purchase; price is present only on the last two.
//
// Event time advances by EventInterval per event of a shard, from Start; each
// event is late by up to MaxDisorder (most by little) but never before Start, so
// the maximum event time a shard has produced minus any later event's time never
// exceeds MaxDisorder.
// With BadEvery = n, every n-th record of a shard is truncated JSON, so that a
// job's dead letters have something to show.
//
// Rate limits the whole source to a number of events per second with one token
// bucket per shard (Rate / Shards each); its clock is replaceable (WithClock).
package generator
