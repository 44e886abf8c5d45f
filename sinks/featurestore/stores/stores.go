// Package stores opens the online feature store a URL names (see
// featurestore.ParseURL): the one place that knows every store, so that
// jobs and the CLI take a --features URL without a switch of their own.
package stores

import (
	"context"
	"fmt"

	"github.com/shardflow/shardflow/sinks/featurestore"
	"github.com/shardflow/shardflow/sinks/featurestore/dynamostore"
	"github.com/shardflow/shardflow/sinks/featurestore/redisstore"
	"github.com/shardflow/shardflow/sinks/featurestore/sqlitestore"
)

// Default is the embedded default store of the CLI.
const Default = "sqlite://./shardflow-data/features.db"

// Open opens the store of view that url names.
func Open(ctx context.Context, url string, view featurestore.View) (featurestore.Store, error) {
	loc, err := featurestore.ParseURL(url)
	if err != nil {
		return nil, err
	}
	switch loc.Scheme {
	case "sqlite":
		return sqlitestore.Open(ctx, loc, view)
	case "redis":
		return redisstore.Open(ctx, loc, view)
	case "dynamodb":
		return dynamostore.Open(ctx, loc, view)
	}
	return nil, fmt.Errorf("featurestore: %s: unknown store %q", url, loc.Scheme)
}
