package leases

import (
	"context"
	"testing"

	"github.com/shardflow/shardflow/internal/testenv"
)

// BenchmarkRenew measures conditional renewals of one lease against dynalite
// (one client, sequential).
func BenchmarkRenew(b *testing.B) {
	srv := testenv.Dynalite(b)
	ctx := context.Background()
	tb, err := NewTable(dynamodbClient(b, srv), "leases")
	if err != nil {
		b.Fatal(err)
	}
	if err := tb.Create(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := tb.Put(ctx, Lease{Key: "s00"}); err != nil {
		b.Fatal(err)
	}
	l, _, err := tb.Get(ctx, "s00")
	if err != nil {
		b.Fatal(err)
	}
	if err := tb.Take(ctx, &l, "a"); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if err := tb.Renew(ctx, &l, "a", 0); err != nil {
			b.Fatal(err)
		}
	}
}
