package sqlitestore

import (
	"context"
	"database/sql"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shardflow/shardflow/sinks/featurestore"
	"github.com/shardflow/shardflow/sinks/featurestore/storetest"
)

func openURL(t testing.TB, url string, view featurestore.View) *Store {
	t.Helper()
	loc, err := featurestore.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), loc, view)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestFeast(t *testing.T) {
	storetest.Run(t, func(t *testing.T, view featurestore.View) featurestore.Store {
		return openURL(t, "sqlite://"+filepath.Join(t.TempDir(), "online.db")+"?layout=feast&project=shop", view)
	}, storetest.TimestampSeconds())
}

// feastView is the view of the byte-level tests; the vectors below are
// printed by sinks/featurestore/feast/testdata/vectors.py, which computes
// them from Feast's documented encoding without this module's code.
var feastView = featurestore.View{Name: "user_stats", Entity: "user_id", Features: []featurestore.Feature{
	{Name: "clicks", Type: featurestore.Int64},
	{Name: "revenue", Type: featurestore.Float64},
	{Name: "page", Type: featurestore.String},
	{Name: "last_seen", Type: featurestore.Timestamp},
}}

const keyU1 = "010000000200000007000000757365725f696402000000020000007531" // EntityKey(user_id=u1)

func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

type feastRow struct {
	Key, Feature, Value, ValueType string // Key and Value in hex
	Text                           sql.NullString
	EventTS                        int64
	EventMs, Revision              int64
}

func feastRows(t *testing.T, db *sql.DB) []feastRow {
	t.Helper()
	rows, err := db.Query(`SELECT hex(entity_key), feature_name, hex(value), typeof(value), value_text, event_ts, shardflow_event_ms, shardflow_revision FROM "shop_user_stats" ORDER BY feature_name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []feastRow
	for rows.Next() {
		var r feastRow
		if err := rows.Scan(&r.Key, &r.Feature, &r.Value, &r.ValueType, &r.Text, &r.EventTS, &r.EventMs, &r.Revision); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFeastBytes checks the rows in Feast's table, column by column, against
// independently computed vectors.
func TestFeastBytes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "online.db")
	s := openURL(t, "sqlite://"+path+"?layout=feast&project=shop", feastView)
	before := time.Now().Unix()
	row := featurestore.Row{Entity: "u1", EventTime: 1700000000123, Revision: 7, Values: []featurestore.Value{
		{Int: 42}, {Float: 2.5}, {Str: "/home é"}, {Int: 1700000000999},
	}}
	if err := s.Put(ctx, []featurestore.Row{row}); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	text := func(s string) sql.NullString { return sql.NullString{String: s, Valid: true} }
	want := []feastRow{
		{keyU1, "clicks", "202A", "blob", text("42"), 1700000000, 1700000000123, 7},
		{keyU1, "last_seen", "4080E2CFAA06", "blob", sql.NullString{}, 1700000000, 1700000000123, 7},
		{keyU1, "page", "12082F686F6D6520C3A9", "blob", text("/home é"), 1700000000, 1700000000123, 7},
		{keyU1, "revenue", "290000000000000440", "blob", text("2.5"), 1700000000, 1700000000123, 7},
	}
	for i := range want {
		want[i].Key = strings.ToUpper(keyU1)
	}
	if got := feastRows(t, db); !reflect.DeepEqual(got, want) {
		t.Errorf("rows\n got %+v\nwant %+v", got, want)
	}
	var created int64
	var createdType string
	if err := db.QueryRow(`SELECT created_ts, typeof(created_ts) FROM "shop_user_stats" WHERE feature_name = 'clicks'`).Scan(&created, &createdType); err != nil {
		t.Fatal(err)
	}
	if createdType != "integer" || created < before || created > time.Now().Unix() {
		t.Errorf("created_ts = %d (%s), want the Unix seconds of the Put", created, createdType)
	}
	// Feast's columns, as its CREATE TABLE names them, then shardflow's.
	cols, err := db.Query(`SELECT name, type, pk FROM pragma_table_info('shop_user_stats') ORDER BY cid`)
	if err != nil {
		t.Fatal(err)
	}
	var schema []string
	for cols.Next() {
		var n, ty string
		var pk int
		if err := cols.Scan(&n, &ty, &pk); err != nil {
			t.Fatal(err)
		}
		schema = append(schema, n+" "+ty+" "+string(rune('0'+pk)))
	}
	cols.Close()
	wantSchema := []string{"entity_key BLOB 1", "feature_name TEXT 2", "value BLOB 0", "value_text TEXT 0", "vector_value BLOB 0",
		"event_ts timestamp 0", "created_ts timestamp 0", "shardflow_event_ms INTEGER 0", "shardflow_revision INTEGER 0"}
	if !reflect.DeepEqual(schema, wantSchema) {
		t.Errorf("schema %q, want %q", schema, wantSchema)
	}

	// A null is the empty Value, a zero-length BLOB, with value_text NULL.
	row.EventTime += 1000
	row.Values[2] = featurestore.Value{Null: true}
	if err := s.Put(ctx, []featurestore.Row{row}); err != nil {
		t.Fatal(err)
	}
	for _, r := range feastRows(t, db) {
		if r.Feature == "page" && (r.Value != "" || r.ValueType != "blob" || r.Text.Valid || r.EventTS != 1700000001) {
			t.Errorf("null page: %+v, want an empty blob, NULL text, event_ts 1700000001", r)
		}
	}
}

// TestFeastTableFeastCreated opens a table that Feast's `feast apply`
// created (its exact DDL) and holds rows Feast wrote: shardflow's columns are
// added, Feast's rows are read with their second-precision event_ts, and the
// compare-and-set treats them by that event_ts.
func TestFeastTableFeastCreated(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "online.db")
	db := rawDB(t, path)
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS "shop_user_stats" (entity_key BLOB, feature_name TEXT, value BLOB, value_text TEXT,  vector_value BLOB, event_ts timestamp, created_ts timestamp,  PRIMARY KEY(entity_key, feature_name))`,
		`INSERT INTO "shop_user_stats" VALUES (X'` + keyU1 + `', 'clicks', X'202a', '42', NULL, 1700000000, NULL)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	s := openURL(t, "sqlite://"+path+"?layout=feast&project=shop", feastView)
	got, err := s.Get(ctx, []string{"u1"})
	if err != nil {
		t.Fatal(err)
	}
	want := featurestore.Row{Entity: "u1", EventTime: 1700000000000, Values: []featurestore.Value{{Int: 42}, {Null: true}, {Null: true}, {Null: true}}}
	if got[0] == nil || !reflect.DeepEqual(*got[0], want) {
		t.Fatalf("got %+v, want %+v", got[0], want)
	}
	older := featurestore.Row{Entity: "u1", EventTime: 1699999999999, Revision: 5, Values: []featurestore.Value{{Int: 1}, {Float: 1}, {Str: "x"}, {Int: 0}}}
	newer := older
	newer.EventTime = 1700000000001
	for _, c := range []struct {
		r      featurestore.Row
		clicks string
	}{{older, "202A"}, {newer, "2001"}} {
		if err := s.Put(ctx, []featurestore.Row{c.r}); err != nil {
			t.Fatal(err)
		}
		var v string
		if err := db.QueryRow(`SELECT hex(value) FROM "shop_user_stats" WHERE feature_name = 'clicks'`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		if v != c.clicks {
			t.Errorf("after a put at %d: clicks = %s, want %s", c.r.EventTime, v, c.clicks)
		}
	}
}

// TestSweep checks that Put deletes expired rows from the file, in both
// layouts, and keeps fresh ones.
func TestSweep(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UnixMilli()
	for _, c := range []struct{ query, table string }{{"", `"v"`}, {"?layout=feast&project=p", `"p_v"`}} {
		path := filepath.Join(t.TempDir(), "fs.db")
		s := openURL(t, "sqlite://"+path+c.query, storetest.View("v", time.Hour))
		if err := s.Put(ctx, []featurestore.Row{storetest.Row("fresh", now, 1), storetest.Row("stale", now-2*time.Hour.Milliseconds(), 2)}); err != nil {
			t.Fatal(err)
		}
		var fresh, stale int
		if err := rawDB(t, path).QueryRow(`SELECT count(*) FILTER (WHERE rowid IN (SELECT rowid FROM `+c.table+` WHERE `+entityIs(c.query, "fresh")+`)), count(*) FILTER (WHERE rowid IN (SELECT rowid FROM `+c.table+` WHERE `+entityIs(c.query, "stale")+`)) FROM `+c.table).Scan(&fresh, &stale); err != nil {
			t.Fatal(err)
		}
		wantFresh := 1
		if c.query != "" {
			wantFresh = 4 // a row per feature
		}
		if fresh != wantFresh || stale != 0 {
			t.Errorf("layout %q: %d fresh and %d stale rows in the file, want %d and 0", c.query, fresh, stale, wantFresh)
		}
	}
}

// entityIs is SQL for the rows of entity; Feast's user_id key is 27 bytes before the value.
func entityIs(query, entity string) string {
	if query == "" {
		return "entity_id = '" + entity + "'"
	}
	return "substr(entity_key, 28) = CAST('" + entity + "' AS BLOB)"
}
