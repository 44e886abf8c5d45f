package featurestore_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/internal/arrowpool"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sinks/featurestore"
	"github.com/shardflow/shardflow/sinks/featurestore/storetest"
)

// memStore is the in-memory Store of the unit tests.
type memStore struct {
	mu   sync.Mutex
	view featurestore.View
	rows map[string]featurestore.Row
	puts int
}

func newMemStore(view featurestore.View) *memStore {
	return &memStore{view: view, rows: map[string]featurestore.Row{}}
}

func (m *memStore) Put(ctx context.Context, rows []featurestore.Row) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.puts++
	for _, r := range rows {
		if old, ok := m.rows[r.Entity]; !ok || old.EventTime < r.EventTime || old.EventTime == r.EventTime && old.Revision <= r.Revision {
			r.Values = append([]featurestore.Value(nil), r.Values...)
			m.rows[r.Entity] = r
		}
	}
	return nil
}

func (m *memStore) Get(ctx context.Context, entities []string) ([]*featurestore.Row, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*featurestore.Row, len(entities))
	for i, e := range entities {
		if r, ok := m.rows[e]; ok && !m.view.Expired(r.EventTime, time.Now()) {
			out[i] = &r
		}
	}
	return out, nil
}

func (m *memStore) Close() error { return nil }

// The suite passes on the reference store, so its expectations are the contract's.
func TestSuiteOnMemStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, v featurestore.View) featurestore.Store { return newMemStore(v) })
}

var view = storetest.View("user_features", 0)

var schema = arrow.NewSchema([]arrow.Field{
	{Name: "user_id", Type: arrow.BinaryTypes.String},
	{Name: "event_ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond}},
	{Name: "events_1h", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "revenue_1h", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "last_page", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "last_event_ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond}, Nullable: true},
	{Name: "ignored", Type: arrow.PrimitiveTypes.Int32},
}, nil)

// batch builds rows of storetest.Row(entity, ts, n) for each (entity, ts, n);
// n < 0 makes every value null.
func batch(t *testing.T, rows ...featurestore.Row) *pipeline.Batch {
	t.Helper()
	return batchIn(t, memory.DefaultAllocator, rows...)
}

// batchIn is batch with its buffers from mem.
func batchIn(t *testing.T, mem memory.Allocator, rows ...featurestore.Row) *pipeline.Batch {
	t.Helper()
	rb := array.NewRecordBuilder(mem, schema)
	defer rb.Release()
	for _, r := range rows {
		rb.Field(0).(*array.StringBuilder).Append(r.Entity)
		rb.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(r.EventTime))
		for i, v := range r.Values {
			b := rb.Field(2 + i)
			if v.Null {
				b.AppendNull()
				continue
			}
			switch b := b.(type) {
			case *array.Int64Builder:
				b.Append(v.Int)
			case *array.Float64Builder:
				b.Append(v.Float)
			case *array.StringBuilder:
				b.Append(v.Str)
			case *array.TimestampBuilder:
				b.Append(arrow.Timestamp(v.Int))
			}
		}
		rb.Field(6).(*array.Int32Builder).Append(7)
	}
	return &pipeline.Batch{Rec: rb.NewRecordBatch(), Shard: "shard-0"}
}

func newSink(t *testing.T, store featurestore.Store) *featurestore.Sink {
	t.Helper()
	s, err := featurestore.NewSink(featurestore.SinkConfig{View: view, Store: store, PutRows: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Bind(schema); err != nil {
		t.Fatal(err)
	}
	return s
}

func stored(t *testing.T, m *memStore) map[string]featurestore.Row {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]featurestore.Row{}
	for k, v := range m.rows {
		out[k] = v
	}
	return out
}

func TestRowsAreStagedUntilCommit(t *testing.T) {
	ctx := context.Background()
	m := newMemStore(view)
	s := newSink(t, m)
	nulls := featurestore.Row{Entity: "c", EventTime: 50, Values: make([]featurestore.Value, 4)}
	for i := range nulls.Values {
		nulls.Values[i].Null = true
	}
	// a: the newest of three rows wins, whatever their order; b: of two rows
	// of the same event time, the later one.
	for _, b := range []*pipeline.Batch{
		batch(t, storetest.Row("a", 100, 1), storetest.Row("b", 100, 1)),
		batch(t, storetest.Row("a", 300, 3), storetest.Row("b", 100, 2), nulls),
		batch(t, storetest.Row("a", 200, 2)),
	} {
		if err := s.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	h, err := s.PreCommit(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored(t, m)) != 0 {
		t.Fatalf("rows reached the store before the commit: %v", stored(t, m))
	}
	if err := s.Commit(ctx, 1, h); err != nil {
		t.Fatal(err)
	}
	want := map[string]featurestore.Row{"a": storetest.Row("a", 300, 3), "b": storetest.Row("b", 100, 2), "c": nulls}
	if got := stored(t, m); !equalRows(got, want) {
		t.Fatalf("stored %v, want %v", got, want)
	}
	if m.puts != 2 {
		t.Errorf("3 rows in %d puts, want 2 of at most PutRows=2", m.puts)
	}
	// The next checkpoint stages only what came after.
	if h, err := s.PreCommit(ctx, 2); err != nil || h != nil {
		t.Errorf("empty checkpoint: handle %v, %v; want none", h, err)
	}
	if got := s.Counters()["feature_rows_written"]; got != 3 {
		t.Errorf("feature_rows_written = %d, want 3", got)
	}
}

// The job's allocator recycles a released batch's buffers for the next one:
// what the sink staged must not change with them.
func TestStagedRowsOutliveTheirBatch(t *testing.T) {
	ctx := context.Background()
	pool, err := arrowpool.New(arrowpool.Config{})
	if err != nil {
		t.Fatal(err)
	}
	m := newMemStore(view)
	s := newSink(t, m)
	for _, r := range []featurestore.Row{storetest.Row("aaaa", 100, 1), storetest.Row("bbbb", 100, 2)} {
		if err := s.Write(ctx, batchIn(t, pool, r)); err != nil { // Write releases the batch
			t.Fatal(err)
		}
	}
	h, err := s.PreCommit(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, 1, h); err != nil {
		t.Fatal(err)
	}
	want := map[string]featurestore.Row{"aaaa": storetest.Row("aaaa", 100, 1), "bbbb": storetest.Row("bbbb", 100, 2)}
	if got := stored(t, m); !equalRows(got, want) {
		t.Fatalf("stored %v, want %v", got, want)
	}
}

// A crash after the checkpoint was persisted and before (or after) its
// commit: recovery puts the handle's rows again, and a newer row that is
// stored already stays.
func TestRecoverPutsTheCheckpointAgain(t *testing.T) {
	ctx := context.Background()
	m := newMemStore(view)
	s := newSink(t, m)
	if err := s.Write(ctx, batch(t, storetest.Row("a", 100, 1), storetest.Row("b", 100, 1))); err != nil {
		t.Fatal(err)
	}
	h, err := s.PreCommit(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	// Another writer (a later run, a live job) stored newer data for b.
	if err := m.Put(ctx, []featurestore.Row{storetest.Row("b", 500, 9)}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // recovered twice: the first recovery crashed too
		r := newSink(t, m)
		if err := r.Recover(ctx, pipeline.Recovery{Job: "features", Run: "r1", ID: 7, Handle: h}); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]featurestore.Row{"a": storetest.Row("a", 100, 1), "b": storetest.Row("b", 500, 9)}
	if got := stored(t, m); !equalRows(got, want) {
		t.Fatalf("stored %v, want %v", got, want)
	}
}

// handle returns the handle of checkpoint 1 of a sink that wrote one row.
func handle(t *testing.T) []byte {
	t.Helper()
	s := newSink(t, newMemStore(view))
	if err := s.Write(context.Background(), batch(t, storetest.Row("a", 100, 1))); err != nil {
		t.Fatal(err)
	}
	h, err := s.PreCommit(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestDamagedHandleIsRefused(t *testing.T) {
	ctx := context.Background()
	s, h := newSink(t, newMemStore(view)), handle(t)
	for name, bad := range map[string][]byte{
		"truncated": h[:len(h)-3],
		"extended":  append(append([]byte(nil), h...), 0),
		"foreign":   []byte(`{"files":[]}`),
		"version 9": append([]byte("SFFS\x09"), h[5:]...),
	} {
		if err := s.Commit(ctx, 1, bad); err == nil || !strings.Contains(err.Error(), "handle") {
			t.Errorf("%s handle: %v, want an error about the handle", name, err)
		}
	}
}

// A checkpoint of a job whose view had other features is refused, not
// decoded into wrong values.
func TestHandleOfAnotherViewIsRefused(t *testing.T) {
	ctx := context.Background()
	h := handle(t)
	other := view
	other.Features = append([]featurestore.Feature{{Name: "sessions_1h", Type: featurestore.Int64}}, view.Features...)
	o, err := featurestore.NewSink(featurestore.SinkConfig{View: other, Store: newMemStore(other)})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Recover(ctx, pipeline.Recovery{ID: 1, Handle: h}); err == nil || !strings.Contains(err.Error(), "fresh checkpoint directory") {
		t.Fatalf("Recover with another view's handle: %v", err)
	}
}

func TestBindRefusesMissingOrMistypedColumns(t *testing.T) {
	for _, c := range []struct {
		schema *arrow.Schema
		msg    string
	}{
		{arrow.NewSchema(schema.Fields()[1:], nil), `no column "user_id"`},
		{arrow.NewSchema(append([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64}}, schema.Fields()[1:]...), nil), `column "user_id" is int64, want string`},
		{arrow.NewSchema(append(schema.Fields()[:3:3], schema.Fields()[4:]...), nil), `no column "revenue_1h"`},
	} {
		s, err := featurestore.NewSink(featurestore.SinkConfig{View: view, Store: newMemStore(view)})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Bind(c.schema); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Bind: %v, want an error saying %s", err, c.msg)
		}
	}
}

func equalRows(a, b map[string]featurestore.Row) bool {
	if len(a) != len(b) {
		return false
	}
	for k, r := range a {
		o, ok := b[k]
		if !ok || r.Entity != o.Entity || r.EventTime != o.EventTime || len(r.Values) != len(o.Values) {
			return false
		}
		for i := range r.Values {
			if r.Values[i] != o.Values[i] {
				return false
			}
		}
	}
	return true
}
