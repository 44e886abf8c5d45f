package dynamostore

import (
	"context"
	"fmt"
	"testing"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/sinks/featurestore"
	"github.com/shardflow/shardflow/sinks/featurestore/storetest"
)

// BenchmarkPut puts 500 rows per op against dynalite with 1 and with
// putsInFlight PutItem calls in flight; every op's rows are newer than the
// last op's, so each call writes. It reports rows/s.
func BenchmarkPut(b *testing.B) {
	srv := testenv.Dynalite(b)
	for _, inFlight := range []int{1, putsInFlight} {
		b.Run(fmt.Sprintf("inflight=%d", inFlight), func(b *testing.B) {
			s := open(b, srv, freshTable(b, ""), storetest.View("bench", 0))
			s.inFlight = inFlight
			rows := make([]featurestore.Row, 500)
			for i := 0; b.Loop(); i++ {
				for j := range rows {
					rows[j] = storetest.Row(fmt.Sprintf("user-%04d", j), int64(i), j)
				}
				if err := s.Put(context.Background(), rows); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(rows))/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
