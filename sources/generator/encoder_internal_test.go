package generator

import (
	"bytes"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// encoderConfigs cover what changes an event's bytes: seeds, shard counts,
// malformed records, disorder, intervals that are not whole milliseconds and
// a start that is not, and times far enough out to cross days and years.
var encoderConfigs = []Config{
	{Seed: 1, BadEvery: 5000},
	{Seed: 2, Shards: 1, MaxDisorder: NoDisorder},
	{Seed: -7, Shards: 7, BadEvery: 3, MaxDisorder: 24 * time.Hour},
	{Seed: 42, Shards: 1000, BadEvery: 1},
	{Seed: 5, Shards: 3, EventInterval: 1500 * time.Microsecond, Start: time.Date(2024, 2, 28, 23, 59, 59, 123_456_789, time.UTC)},
	{Seed: 6, Shards: 2, EventInterval: time.Nanosecond, MaxDisorder: time.Millisecond},
	{Seed: 7, Shards: 5, EventInterval: 7 * time.Hour, MaxDisorder: 13 * time.Hour, BadEvery: 11},
	{Seed: 8, Shards: 4, EventInterval: 97 * 24 * time.Hour, Start: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)},
}

// TestEncoderMatchesV0 checks that the encoder writes the same bytes, keys
// and times as the first one (encoder_v0_internal_test.go), both read in
// order the way a shard reader does and at random indexes the way
// Reference.Append may be called.
func TestEncoderMatchesV0(t *testing.T) {
	const perConfig = 25_000 // 200,000 events in all
	for ci, cfg := range encoderConfigs {
		t.Run(strconv.Itoa(ci), func(t *testing.T) {
			c := cfg.withDefaults()
			p := newParams(c)
			hOld, hNew := fnv.New64a(), fnv.New64a()
			var old, got []byte
			check := func(how string, e *encoder, s int, i int64) {
				var oldKey, key string
				var oldTS, ts int64
				old, oldKey, oldTS = p.appendEventV0(old[:0], s, i)
				if e != nil {
					got, key, ts = e.appendEvent(got[:0], s, i)
				} else {
					got, key, ts = p.appendEvent(got[:0], s, i)
				}
				if !bytes.Equal(got, old) || key != oldKey || ts != oldTS {
					t.Fatalf("%s: shard %d event %d:\n got %s %q %d\nwant %s %q %d", how, s, i, got, key, ts, old, oldKey, oldTS)
				}
				hOld.Write(old)
				hNew.Write(got)
			}
			// In order, shard by shard, from the start and from far on.
			n := perConfig / 2 / c.Shards
			for s := range c.Shards {
				e := newEncoder(&p)
				for i := range int64(n + 1) {
					check("in order", e, s, i)
				}
				e = newEncoder(&p)
				for i := int64(999_999_990); i < 999_999_990+int64(n); i++ {
					check("in order from 999999990", e, s, i)
				}
			}
			// At random indexes, statelessly.
			rng := rand.New(rand.NewPCG(uint64(ci), 9))
			for range perConfig / 2 {
				i := rng.Int64N(1 << uint(rng.IntN(40)+1))
				check("random", nil, rng.IntN(c.Shards), i)
			}
			if hOld.Sum64() != hNew.Sum64() {
				t.Fatalf("hash %x, want %x", hNew.Sum64(), hOld.Sum64())
			}
		})
	}
}
