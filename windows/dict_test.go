package windows

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// BenchmarkDictLookup looks up batches of 4096 user ids drawn from 100k in a
// string dict that already holds them all: the hot path of CountDistinct.
func BenchmarkDictLookup(b *testing.B) {
	mem := memory.NewGoAllocator()
	rng := rand.New(rand.NewPCG(1, 2))
	var arrs []arrow.Array
	for range 64 {
		sb := array.NewStringBuilder(mem)
		for range benchRows {
			sb.Append(fmt.Sprintf("user-%08d", rng.IntN(100_000)))
		}
		arrs = append(arrs, sb.NewArray())
		sb.Release()
	}
	defer func() {
		for _, a := range arrs {
			a.Release()
		}
	}()
	d := newDict(pStr)
	sel := make([]int32, benchRows)
	for i := range sel {
		sel[i] = int32(i)
	}
	dst := make([]uint32, benchRows)
	for _, a := range arrs {
		d.lookup(a, sel, dst, false)
	}
	b.ReportAllocs()
	rows := 0
	for i := 0; b.Loop(); i++ {
		d.lookup(arrs[i%len(arrs)], sel, dst, false)
		rows += benchRows
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
