package dynamostore

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/sinks/featurestore"
	"github.com/shardflow/shardflow/sinks/featurestore/storetest"
)

var tables atomic.Int64

// freshTable returns the location of a table no other call returned.
func freshTable(t testing.TB, query string) featurestore.Location {
	t.Helper()
	loc, err := featurestore.ParseURL(fmt.Sprintf("dynamodb://features_%d%s", tables.Add(1), query))
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func open(t testing.TB, srv *testenv.DynamoDBServer, loc featurestore.Location, view featurestore.View) *Store {
	t.Helper()
	s, err := Open(context.Background(), loc, view, srv.DynamoDBOptions(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	srv := testenv.Dynalite(t)
	storetest.Run(t, func(t *testing.T, view featurestore.View) featurestore.Store {
		return open(t, srv, freshTable(t, ""), view)
	})
}

// TestViewsShareATable checks that views in one table keep their own rows
// (the sort key), and that Open finds the table another Open created.
func TestViewsShareATable(t *testing.T) {
	srv := testenv.Dynalite(t)
	loc := freshTable(t, "")
	a := open(t, srv, loc, storetest.View("view_a", 0))
	b := open(t, srv, loc, storetest.View("view_b", 0))
	ctx := context.Background()
	if err := a.Put(ctx, []featurestore.Row{storetest.Row("u", 100, 1)}); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, []featurestore.Row{storetest.Row("u", 50, 2)}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		s    *Store
		want featurestore.Row
	}{{a, storetest.Row("u", 100, 1)}, {b, storetest.Row("u", 50, 2)}} {
		got, err := c.s.Get(ctx, []string{"u", "u"})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range got {
			if g == nil || !reflect.DeepEqual(*g, c.want) {
				t.Errorf("view %s: got %v, want %+v", c.s.view.Name, g, c.want)
			}
		}
	}
}

// TestFloatsOutsideNumber checks the floats DynamoDB's Number cannot hold
// round-trip, and that an ordinary float is stored as a Number other tools
// can read.
func TestFloatsOutsideNumber(t *testing.T) {
	srv := testenv.Dynalite(t)
	loc := freshTable(t, "")
	view := featurestore.View{Name: "f", Entity: "id", Features: []featurestore.Feature{{Name: "x", Type: featurestore.Float64}}}
	s := open(t, srv, loc, view)
	ctx := context.Background()
	vals := []float64{math.Inf(1), math.Inf(-1), math.MaxFloat64, math.SmallestNonzeroFloat64, 1e126, 1.5, -0.1}
	var rows []featurestore.Row
	for i, v := range vals {
		rows = append(rows, featurestore.Row{Entity: fmt.Sprint(i), EventTime: 1, Values: []featurestore.Value{{Float: v}}})
	}
	rows = append(rows, featurestore.Row{Entity: "nan", EventTime: 1, Values: []featurestore.Value{{Float: math.NaN()}}})
	if err := s.Put(ctx, rows); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rows {
		ids = append(ids, r.Entity)
	}
	got, err := s.Get(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		if got[i] == nil || got[i].Values[0].Float != v {
			t.Errorf("%v: got %v", v, got[i])
		}
	}
	if n := got[len(vals)]; n == nil || !math.IsNaN(n.Values[0].Float) {
		t.Errorf("NaN: got %v", n)
	}
	item, err := srv.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(loc.Target), Key: map[string]types.AttributeValue{
		attrEntity: &types.AttributeValueMemberS{Value: "5"}, attrView: &types.AttributeValueMemberS{Value: "f"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := item.Item["x"].(*types.AttributeValueMemberN); !ok || n.Value != "1.5" {
		t.Errorf("1.5 is stored as %#v, want the Number 1.5", item.Item["x"])
	}
}

func TestExpiresAt(t *testing.T) {
	srv := testenv.Dynalite(t)
	loc := freshTable(t, "")
	s := open(t, srv, loc, storetest.View("ttl", 3600e9))
	ctx := context.Background()
	if err := s.Put(ctx, []featurestore.Row{storetest.Row("u", 10_000, 1)}); err != nil {
		t.Fatal(err)
	}
	item, err := srv.Client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(loc.Target), Key: map[string]types.AttributeValue{
		attrEntity: &types.AttributeValueMemberS{Value: "u"}, attrView: &types.AttributeValueMemberS{Value: "ttl"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := item.Item[attrExpiresAt].(*types.AttributeValueMemberN); !ok || n.Value != "3610" {
		t.Errorf("expires_at = %#v, want 3610 (event time 10s + 1h, in seconds)", item.Item[attrExpiresAt])
	}
}

func TestOpenRefuses(t *testing.T) {
	srv := testenv.Dynalite(t)
	ctx := context.Background()
	for _, c := range []struct {
		url  string
		view featurestore.View
		want string
	}{
		{"dynamodb://t?layout=feast&project=p", storetest.View("v", 0), "needs {table_name}"},
		{"dynamodb://t?region=x", storetest.View("v", 0), "unknown parameter region"},
		{"dynamodb://t", featurestore.View{Name: "v", Entity: "id", Features: []featurestore.Feature{{Name: "event_ts", Type: featurestore.Int64}}}, "attribute the store keeps"},
	} {
		loc, err := featurestore.ParseURL(c.url)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Open(ctx, loc, c.view, srv.DynamoDBOptions(t)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.url, err, c.want)
		}
	}
	// A table with other keys is refused, not written into.
	if _, err := srv.Client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String("other_keys"),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
	}); err != nil {
		t.Fatal(err)
	}
	loc, _ := featurestore.ParseURL("dynamodb://other_keys")
	_, err := Open(ctx, loc, storetest.View("v", 0), srv.DynamoDBOptions(t))
	if err == nil || !strings.Contains(err.Error(), "native layout needs") {
		t.Errorf("table with other keys: err = %v", err)
	}
}
