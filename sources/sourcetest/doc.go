// Package sourcetest is the conformance suite that every pipeline.Source
// passes, as watermill's pubsub/tests is for its publishers and subscribers.
//
// A source's test calls Run with a Factory. The factory builds a fresh Source
// over data it controls (files it wrote, a generator configuration, a Kinesis
// stream it filled through its own client) and returns it with the records
// that every shard must deliver from its start:
//
//	func TestConformance(t *testing.T) {
//		sourcetest.Run(t, func(t *testing.T, mem memory.Allocator) sourcetest.Fixture {
//			src, want := ... // allocate the source's batches from mem
//			return sourcetest.Fixture{Source: src, Want: want}
//		})
//	}
//
// The suite checks: Shards lists exactly the fixture's shards; every shard
// delivers every record once and in order, with positions that strictly
// increase; OpenShard(after = P) resumes exactly after P at several random cut
// points; every Read returns within Options.ReadTimeout; the end (ErrShardEnd
// or ErrBoundReached) is sticky and comes at the end of every shard of a
// bounded source; Close is
// idempotent; batches have RawSchema and consistent metadata; shards read
// concurrently deliver the same records; and the checked allocator the factory
// received holds no memory once every reader is closed.
//
// The factory is called once per subtest with a new allocator. It may reuse the
// data behind the source (files, a stream) across calls as long as Want stays
// the same.
package sourcetest
