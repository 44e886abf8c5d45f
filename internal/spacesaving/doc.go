// Package spacesaving counts the heaviest keys of a stream in bounded memory
// with the Space-Saving algorithm of Metwally, Agrawal and El Abbadi
// ("Efficient Computation of Frequent and Top-k Elements in Data Streams",
// ICDT 2005), weighted form.
//
// A Sketch of capacity m keeps m counters. A key that has a counter adds its
// weight to it; a new key takes over the smallest counter, inherits its count
// as its error and adds its weight. So for every monitored key
//
//	Count-Err <= true weight <= Count
//
// and every key whose true weight exceeds Total/m is monitored. The smallest
// counter never exceeds Total/m, which bounds Err.
//
// No well-kept Go implementation is served by the module proxy (checked:
// github.com/axiomhq/topk, github.com/segmentio/topk, github.com/dgryski/go-topk),
// so shardflow carries this one; its test checks the bounds against exact
// counts of a Zipf stream.
//
// Sketches of parts of a stream Merge into one that keeps the bounds (how
// windows.TopK combines its shards), and MarshalBinary and UnmarshalBinary
// carry a sketch through a checkpoint exactly.
package spacesaving
