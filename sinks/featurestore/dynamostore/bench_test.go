package dynamostore

import (
	"context"
	"fmt"
	"testing"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/sinks/featurestore"
	"github.com/shardflow/shardflow/sinks/featurestore/storetest"
)

// BenchmarkPut puts 500 rows per op against dynalite, in the native layout
// with 1 and with putsInFlight PutItem calls in flight and in Feast's with
// putsInFlight; every op's rows are newer than the
// last op's, so each call writes. It reports rows/s.
func BenchmarkPut(b *testing.B) {
	srv := testenv.Dynalite(b)
	for _, c := range []struct {
		layout   string
		inFlight int
	}{{"native", 1}, {"native", putsInFlight}, {"feast", putsInFlight}} {
		b.Run(fmt.Sprintf("layout=%s/inflight=%d", c.layout, c.inFlight), func(b *testing.B) {
			loc := freshTable(b, "")
			if c.layout == "feast" {
				loc = feastLoc(b)
			}
			s := open(b, srv, loc, storetest.View("bench", 0))
			s.inFlight = c.inFlight
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
