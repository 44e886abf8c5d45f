package windows

import (
	"testing"
	"time"
)

// BenchmarkPageStats compares, side by side in one run, a page_stats-style
// tumbling aggregation (1-minute windows by page over the clickstream of
// bench_test.go: count, page views, purchases, revenue) alone and with one
// more aggregate: exact CountDistinct(user_id), ApproxCountDistinct(user_id),
// Quantile(price, 0.5) (prices are on purchases, a tenth of the rows) or
// TopK(user_id, 10).
//
//	go test -run '^$' -bench BenchmarkPageStats -count 6 -cpu 1 ./windows/
func BenchmarkPageStats(b *testing.B) {
	base := func(extra ...Agg) []Agg {
		return append([]Agg{
			Count("events"),
			CountIf("page_views", eqPred{"event_type", "page_view"}),
			CountIf("purchases", eqPred{"event_type", "purchase"}),
			SumIf("revenue", "price", eqPred{"event_type", "purchase"}),
		}, extra...)
	}
	for _, bc := range []struct {
		name string
		aggs []Agg
	}{
		{"base", base()},
		{"count_distinct", base(CountDistinct("unique_users", "user_id"))},
		{"approx_count_distinct", base(ApproxCountDistinct("unique_users", "user_id"))},
		{"quantile", base(Quantile("median_price", "price", 0.5))},
		{"top_k", base(TopK("top_users", "user_id", 10))},
	} {
		b.Run(bc.name, func(b *testing.B) { benchAggregate(b, Tumbling(time.Minute), bc.aggs) })
	}
}
