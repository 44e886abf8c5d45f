package stores_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/sinks/featurestore"
	"github.com/shardflow/shardflow/sinks/featurestore/stores"
	"github.com/shardflow/shardflow/sinks/featurestore/storetest"
)

// Each URL opens its store, and a row put through one comes back.
func TestOpenByURL(t *testing.T) {
	ctx := context.Background()
	for _, url := range []string{
		"sqlite://" + filepath.Join(t.TempDir(), "features.db"),
		"redis://" + testenv.Redis(t) + "/3",
		dynamoURL(t, "by_url"),
	} {
		s, err := stores.Open(ctx, url, storetest.View("by_url", 0))
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		row := storetest.Row("u1", 1000, 1)
		if err := s.Put(ctx, []featurestore.Row{row}); err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		got, err := s.Get(ctx, []string{"u1"})
		if err != nil || got[0] == nil || got[0].EventTime != 1000 {
			t.Errorf("%s: Get = %v, %v", url, got, err)
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}
	if _, err := stores.Open(ctx, "memcached://x", storetest.View("v", 0)); err == nil || !strings.Contains(err.Error(), "unknown store") {
		t.Errorf("memcached: %v", err)
	}
}

// dynamoURL starts dynalite and points the standard AWS configuration at it
// for the rest of t, as a user's environment would.
func dynamoURL(t *testing.T, table string) string {
	testenv.DynaliteForSDK(t)
	return "dynamodb://" + table
}
