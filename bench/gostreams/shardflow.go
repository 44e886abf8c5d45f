package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/generator"
	"github.com/shardflow/shardflow/windows"
)

// memSource serves batches built before the run, one shard per slice; every
// Read hands over a new reference to the next one, so a source can be read
// again by the next repetition.
type memSource struct{ shards [][]*pipeline.Batch }

var _ pipeline.Source = (*memSource)(nil)

func (m *memSource) Name() string  { return "memory" }
func (m *memSource) Bounded() bool { return true }

func (m *memSource) Shards(context.Context) ([]pipeline.Shard, error) {
	out := make([]pipeline.Shard, len(m.shards))
	for s := range out {
		out[s] = pipeline.Shard{ID: generator.ShardID(s)}
	}
	return out, nil
}

func (m *memSource) OpenShard(_ context.Context, shard pipeline.Shard, after pipeline.Position) (pipeline.ShardReader, error) {
	for s := range m.shards {
		if generator.ShardID(s) != shard.ID {
			continue
		}
		r := &memReader{batches: m.shards[s]}
		for r.next < len(r.batches) && r.batches[r.next].Last.N <= after.N {
			r.next++
		}
		return r, nil
	}
	return nil, fmt.Errorf("memory source: no shard %q", shard.ID)
}

type memReader struct {
	batches []*pipeline.Batch
	next    int
}

func (r *memReader) Read(ctx context.Context) (*pipeline.Batch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.next == len(r.batches) {
		return nil, pipeline.ErrShardEnd
	}
	b := r.batches[r.next]
	r.next++
	b.Rec.Retain()
	return b.WithRecord(b.Rec), nil
}

func (r *memReader) Close() error { return nil }

// replayStage stands in for the decoder in the decoded mode: for each
// placeholder batch it emits the batch that shardflow's JSON stage decoded
// from the same records before the run.
type replayStage struct {
	schema  *arrow.Schema
	decoded [][]arrow.RecordBatch
}

var _ pipeline.Stage = (*replayStage)(nil)

func (r *replayStage) Name() string { return "replay-decoded" }

func (r *replayStage) Bind(in *arrow.Schema) (*arrow.Schema, func(pipeline.OperatorEnv) (pipeline.Operator, error), error) {
	if !in.Equal(pipeline.RawSchema) {
		return nil, nil, errors.New("replay-decoded: want raw batches")
	}
	return r.schema, func(env pipeline.OperatorEnv) (pipeline.Operator, error) {
		for s := range r.decoded {
			if generator.ShardID(s) == env.Shard {
				return &replayOp{decoded: r.decoded[s]}, nil
			}
		}
		return nil, fmt.Errorf("replay-decoded: no shard %q", env.Shard)
	}, nil
}

type replayOp struct {
	decoded []arrow.RecordBatch
	next    int
}

func (o *replayOp) Process(_ context.Context, b *pipeline.Batch, emit pipeline.Emit) error {
	defer b.Release()
	if o.next == len(o.decoded) || o.decoded[o.next].NumRows() != int64(b.Len()) {
		return fmt.Errorf("replay-decoded: shard %s: batch %d does not match the decoded ones", b.Shard, o.next)
	}
	rec := o.decoded[o.next]
	o.next++
	rec.Retain()
	emit(b.WithRecord(rec))
	return nil
}

// collectSink gathers the window rows into a result.
type collectSink struct {
	res                 result
	start, page, events int
	users               int // -1 without distinct users
}

var _ pipeline.Sink = (*collectSink)(nil)

func (c *collectSink) Name() string                { return "collect" }
func (c *collectSink) Close(context.Context) error { return nil }

func (c *collectSink) Bind(s *arrow.Schema) error {
	col := func(name string, id arrow.Type) (int, error) {
		idx := s.FieldIndices(name)
		if len(idx) != 1 || s.Field(idx[0]).Type.ID() != id {
			return 0, fmt.Errorf("collect: want one %s column %q in %s", id, name, s)
		}
		return idx[0], nil
	}
	var err error
	if c.start, err = col(windows.ColWindowStart, arrow.TIMESTAMP); err != nil {
		return err
	}
	if c.page, err = col("page", arrow.STRING); err != nil {
		return err
	}
	if c.events, err = col("events", arrow.INT64); err != nil {
		return err
	}
	c.users = -1
	if len(s.FieldIndices("unique_users")) > 0 {
		if c.users, err = col("unique_users", arrow.INT64); err != nil {
			return err
		}
	}
	return nil
}

func (c *collectSink) Write(_ context.Context, b *pipeline.Batch) error {
	defer b.Release()
	start := b.Rec.Column(c.start).(*array.Timestamp)
	page := b.Rec.Column(c.page).(*array.String)
	events := b.Rec.Column(c.events).(*array.Int64)
	for i := range b.Len() {
		k := rowKey{start: int64(start.Value(i)), page: page.Value(i)}
		v := rowVal{events: events.Value(i), users: -1}
		if c.users >= 0 {
			v.users = b.Rec.Column(c.users).(*array.Int64).Value(i)
		}
		if _, ok := c.res[k]; ok {
			return fmt.Errorf("collect: window %d page %q emitted twice", k.start, k.page)
		}
		c.res[k] = v
	}
	return nil
}

// runShardflow runs the job: source, the decoder (or the replay of decoded
// batches), a 10 s bounded-disorder watermark on ts, one-minute tumbling
// windows keyed by page, and a sink that collects the rows.
func runShardflow(ctx context.Context, d *data, decoded, distinct bool, mem memory.Allocator) (result, error) {
	src, decode := &memSource{shards: d.raw}, jsonStage()
	if decoded {
		src, decode = &memSource{shards: d.placeholders}, &replayStage{schema: d.decodedSchema, decoded: d.decoded}
	}
	aggs := []windows.Agg{windows.Count("events")}
	if distinct {
		aggs = append(aggs, windows.CountDistinct("unique_users", "user_id"))
	}
	sink := &collectSink{res: result{}}
	job, err := pipeline.New("page-stats").
		From(src).
		Decode(decode).
		Watermark("ts", 10*time.Second).
		KeyBy("page").
		Window(windows.Tumbling(time.Minute).Aggregate(aggs...)).
		To(sink).
		Build(pipeline.WithAllocator(mem))
	if err != nil {
		return nil, err
	}
	if err := job.Run(ctx); err != nil {
		return nil, err
	}
	st := job.Stats()
	switch {
	case st.RecordsIn != int64(d.events) || !st.Finished:
		return nil, fmt.Errorf("shardflow: read %d of %d records, finished %v", st.RecordsIn, d.events, st.Finished)
	case st.Counters["late_rows"] != 0:
		return nil, fmt.Errorf("shardflow: %d late rows", st.Counters["late_rows"])
	}
	return sink.res, nil
}
