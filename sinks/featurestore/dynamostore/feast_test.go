package dynamostore

import (
	"context"
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/sinks/featurestore"
	"github.com/shardflow/shardflow/sinks/featurestore/storetest"
)

var projects atomic.Int64

// feastLoc returns a Feast-layout location in a project no other call
// returned, with Feast's default table name template.
func feastLoc(t testing.TB) featurestore.Location {
	t.Helper()
	loc, err := featurestore.ParseURL(fmt.Sprintf("dynamodb://{project}.{table_name}?layout=feast&project=p%d", projects.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestFeastConformance(t *testing.T) {
	srv := testenv.Dynalite(t)
	storetest.Run(t, func(t *testing.T, view featurestore.View) featurestore.Store {
		return open(t, srv, feastLoc(t), view)
	}, storetest.TimestampSeconds())
}

// feastView is the view of the byte-level tests. The Value vectors are
// printed by sinks/featurestore/feast/testdata/vectors.py, which computes
// them from Feast's documented encoding without this module's code; the
// entity_id of user_id=u1 is TestDynamo's in package feast, from a
// hand-written MurmurHash3 x64_128 in python3.
var feastView = featurestore.View{Name: "user_stats", Entity: "user_id", Features: []featurestore.Feature{
	{Name: "clicks", Type: featurestore.Int64},
	{Name: "revenue", Type: featurestore.Float64},
	{Name: "page", Type: featurestore.String},
	{Name: "last_seen", Type: featurestore.Timestamp},
}}

const entityIDU1 = "043fa1fb6c163777379302ef726d3098"

func getRaw(t *testing.T, srv *testenv.DynamoDBServer, table, id string) map[string]types.AttributeValue {
	t.Helper()
	out, err := srv.Client.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"entity_id": &types.AttributeValueMemberS{Value: id}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

func b(t *testing.T, h string) *types.AttributeValueMemberB {
	return &types.AttributeValueMemberB{Value: []byte(unhex(t, h))}
}

// TestFeastBytes checks the item in Feast's table against independently
// computed vectors.
func TestFeastBytes(t *testing.T) {
	srv := testenv.Dynalite(t)
	ctx := context.Background()
	loc, err := featurestore.ParseURL("dynamodb://{project}.{table_name}?layout=feast&project=shop")
	if err != nil {
		t.Fatal(err)
	}
	s := open(t, srv, loc, feastView)
	if s.table != "shop.user_stats" {
		t.Fatalf("table %q, want shop.user_stats", s.table)
	}
	desc, err := srv.Client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("shop.user_stats")})
	if err != nil {
		t.Fatal(err)
	}
	if ks := desc.Table.KeySchema; len(ks) != 1 || aws.ToString(ks[0].AttributeName) != "entity_id" || ks[0].KeyType != types.KeyTypeHash {
		t.Errorf("key schema %+v, want Feast's: entity_id HASH only", ks)
	}
	row := featurestore.Row{Entity: "u1", EventTime: 1700000000123, Revision: 7, Values: []featurestore.Value{
		{Int: 42}, {Float: 2.5}, {Str: "/home é"}, {Null: true},
	}}
	if err := s.Put(ctx, []featurestore.Row{row}); err != nil {
		t.Fatal(err)
	}
	want := map[string]types.AttributeValue{
		"entity_id": &types.AttributeValueMemberS{Value: entityIDU1},
		"event_ts":  &types.AttributeValueMemberS{Value: "2023-11-14 22:13:20.123000+00:00"},
		"values": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"clicks":    b(t, "202a"),
			"revenue":   b(t, "290000000000000440"),
			"page":      b(t, "12082f686f6d6520c3a9"),
			"last_seen": b(t, ""), // null: the empty Value, as Feast writes None
		}},
		"shardflow_event_ms": &types.AttributeValueMemberN{Value: "1700000000123"},
		"shardflow_revision": &types.AttributeValueMemberN{Value: "7"},
	}
	if got := getRaw(t, srv, "shop.user_stats", entityIDU1); !reflect.DeepEqual(got, want) {
		t.Errorf("item\n got %#v\nwant %#v", got, want)
	}
	// The timestamp feature in whole seconds, and a TTL attribute.
	ttl := storetest.View("ttl", time.Hour)
	st := open(t, srv, loc, ttl)
	r := storetest.Row("u1", 1700000000999, 1)
	if err := st.Put(ctx, []featurestore.Row{r}); err != nil {
		t.Fatal(err)
	}
	item := getRaw(t, srv, "shop.ttl", entityIDU1)
	if got := item["values"].(*types.AttributeValueMemberM).Value["last_event_ts"]; !reflect.DeepEqual(got, b(t, "4080e2cfaa06")) {
		t.Errorf("last_event_ts = %#v, want unix_timestamp_val 1700000000", got)
	}
	if got := item["shardflow_expires_at"]; !reflect.DeepEqual(got, &types.AttributeValueMemberN{Value: "1700003600"}) {
		t.Errorf("shardflow_expires_at = %#v, want 1700003600 (event time + 1h, seconds)", got)
	}
}

// TestFeastReadsFeastWrites puts an item as Feast's online_write_batch does
// (no shardflow attributes, microseconds in event_ts): it is read, an older
// row leaves it and a newer one replaces it.
func TestFeastReadsFeastWrites(t *testing.T) {
	srv := testenv.Dynalite(t)
	ctx := context.Background()
	loc := feastLoc(t)
	s := open(t, srv, loc, feastView)
	if _, err := srv.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: map[string]types.AttributeValue{
		"entity_id": &types.AttributeValueMemberS{Value: entityIDU1},
		"event_ts":  &types.AttributeValueMemberS{Value: "2023-11-14 22:13:20.123456+00:00"},
		"values":    &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"clicks": b(t, "202a")}},
	}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, []string{"u1"})
	if err != nil {
		t.Fatal(err)
	}
	want := featurestore.Row{Entity: "u1", EventTime: 1700000000123, Values: []featurestore.Value{{Int: 42}, {Null: true}, {Null: true}, {Null: true}}}
	if got[0] == nil || !reflect.DeepEqual(*got[0], want) {
		t.Fatalf("got %+v, want %+v", got[0], want)
	}
	r := featurestore.Row{Entity: "u1", EventTime: 1700000000123, Revision: 9, Values: []featurestore.Value{{Int: 1}, {Null: true}, {Null: true}, {Null: true}}}
	for _, c := range []struct {
		ms     int64
		clicks string
	}{{1700000000123, "202a"}, {1700000000124, "2001"}} { // .123000 < .123456 < .124000
		r.EventTime = c.ms
		if err := s.Put(ctx, []featurestore.Row{r}); err != nil {
			t.Fatal(err)
		}
		item := getRaw(t, srv, s.table, entityIDU1)
		if got := item["values"].(*types.AttributeValueMemberM).Value["clicks"]; !reflect.DeepEqual(got, b(t, c.clicks)) {
			t.Errorf("after a put at %d ms: clicks = %#v, want %s", c.ms, got, c.clicks)
		}
	}
}

func TestFeastOpenRefuses(t *testing.T) {
	srv := testenv.Dynalite(t)
	ctx := context.Background()
	// A native table (entity_id, view) under Feast's name.
	native, _ := featurestore.ParseURL("dynamodb://q.v")
	open(t, srv, native, storetest.View("v", 0))
	loc, _ := featurestore.ParseURL("dynamodb://{project}.{table_name}?layout=feast&project=q")
	if _, err := Open(ctx, loc, storetest.View("v", 0), srv.DynamoDBOptions(t)); err == nil || !strings.Contains(err.Error(), "Feast's layout needs") {
		t.Errorf("feast layout on a native table: %v", err)
	}
}

func unhex(t *testing.T, s string) string {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
