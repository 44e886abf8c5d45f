package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/operators"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/generator"
)

// Event is a clickstream event as a go-streams user declares it: the
// generator's JSON object, field by field.
type Event struct {
	EventID   string    `json:"event_id"`
	UserID    string    `json:"user_id"`
	SessionID string    `json:"session_id"`
	EventType string    `json:"event_type"`
	Page      string    `json:"page"`
	Referrer  string    `json:"referrer"`
	TS        time.Time `json:"ts"`
	Price     *float64  `json:"price"`
}

// data holds one run's events in every form the two engines start from. It is
// built before anything is timed.
type data struct {
	cfg    generator.Config
	events int
	// lines are the JSON records by shard; every line is a slice of one buffer.
	lines [][][]byte
	// raw are the shardflow source batches of the lines (pipeline.RawSchema), by shard.
	raw [][]*pipeline.Batch
	// decoded are the lines decoded by shardflow's JSON stage, by shard, one
	// per raw batch (nil until decode).
	decoded       [][]arrow.RecordBatch
	decodedSchema *arrow.Schema
	// placeholders are raw batches without payload that stand for the decoded
	// batches in shardflow's decoded mode (nil until decode).
	placeholders [][]*pipeline.Batch
}

// newData generates cfg's events (generator.Reference: the bytes the
// generator source produces) and their raw batches.
func newData(cfg generator.Config, mem memory.Allocator) (*data, error) {
	ref, err := generator.NewReference(cfg)
	if err != nil {
		return nil, err
	}
	cfg = ref.Config()
	if cfg.Events <= 0 {
		return nil, fmt.Errorf("events = %d, want > 0", cfg.Events)
	}
	d := &data{cfg: cfg, lines: make([][][]byte, cfg.Shards), raw: make([][]*pipeline.Batch, cfg.Shards)}
	rb := pipeline.NewRawBuilder(mem)
	defer rb.Release()
	for s := range cfg.Shards {
		n := ref.ShardEvents(s)
		buf := make([]byte, 0, n*200)
		ends := make([]int, 0, n)
		for i := range n {
			buf, _, _ = ref.Append(buf, s, i)
			ends = append(ends, len(buf))
		}
		lines := make([][]byte, n)
		start := 0
		for i, end := range ends {
			lines[i] = buf[start:end:end]
			start = end
		}
		d.lines[s] = lines
		id := generator.ShardID(s)
		for i, line := range lines {
			rb.Append(line, "", pipeline.Position{N: int64(i) + 1}, 0)
			if rb.Len() == cfg.BatchSize || i == len(lines)-1 {
				d.raw[s] = append(d.raw[s], rb.NewBatch(id))
			}
		}
		d.events += len(lines)
	}
	return d, nil
}

// jsonStage is the decoder both shardflow modes use, as the clickstream job
// declares it.
func jsonStage() pipeline.Stage {
	return operators.JSON(generator.ClickstreamSchema, operators.JSONOptions{Required: []string{"ts"}})
}

// decode runs shardflow's JSON stage over the raw batches once, for the
// decoded mode, and makes the placeholders that stand for them.
func (d *data) decode(mem memory.Allocator) error {
	out, newOp, err := jsonStage().Bind(pipeline.RawSchema)
	if err != nil {
		return err
	}
	d.decodedSchema = out
	rb := pipeline.NewRawBuilder(mem)
	defer rb.Release()
	d.decoded = make([][]arrow.RecordBatch, len(d.raw))
	d.placeholders = make([][]*pipeline.Batch, len(d.raw))
	for s, batches := range d.raw {
		op, err := newOp(pipeline.OperatorEnv{Mem: mem, Source: "bench", Shard: generator.ShardID(s)})
		if err != nil {
			return err
		}
		for _, b := range batches {
			b.Rec.Retain()
			in := b.WithRecord(b.Rec)
			var out []*pipeline.Batch
			if err := op.Process(context.Background(), in, func(o *pipeline.Batch) { out = append(out, o) }); err != nil {
				return err
			}
			if len(out) != 1 || out[0].Side != pipeline.MainSide || out[0].Len() != b.Len() {
				for _, o := range out {
					o.Release()
				}
				return fmt.Errorf("shard %d: decoding a batch of %d records did not give one batch of as many rows", s, b.Len())
			}
			d.decoded[s] = append(d.decoded[s], out[0].Rec)
			for i := b.First.N; i <= b.Last.N; i++ {
				rb.Append(nil, "", pipeline.Position{N: i}, 0)
			}
			d.placeholders[s] = append(d.placeholders[s], rb.NewBatch(b.Shard))
		}
		if err := pipeline.CloseOperators(op); err != nil {
			return err
		}
	}
	return nil
}

// items returns the go-streams source elements, boxed once up front: the
// shards' records in the order of their batches, one batch of each shard in
// turn, as a multi-shard consumer hands them over. elem makes the element of
// shard s's record i.
func (d *data) items(elem func(s, i int) any) []any {
	out := make([]any, 0, d.events)
	for k := 0; ; k++ {
		added := false
		for s, lines := range d.lines {
			lo := k * d.cfg.BatchSize
			if lo >= len(lines) {
				continue
			}
			added = true
			for i := lo; i < min(lo+d.cfg.BatchSize, len(lines)); i++ {
				out = append(out, elem(s, i))
			}
		}
		if !added {
			return out
		}
	}
}

// lineItems are the JSON lines as go-streams elements ([]byte).
func (d *data) lineItems() []any {
	return d.items(func(s, i int) any { return d.lines[s][i] })
}

// eventItems decodes every line with encoding/json once and returns the
// events as go-streams elements (*Event).
func (d *data) eventItems() ([]any, error) {
	events := make([][]Event, len(d.lines))
	for s, lines := range d.lines {
		events[s] = make([]Event, len(lines))
		for i, line := range lines {
			if err := json.Unmarshal(line, &events[s][i]); err != nil {
				return nil, fmt.Errorf("shard %d record %d: %w", s, i, err)
			}
		}
	}
	return d.items(func(s, i int) any { return &events[s][i] }), nil
}

// release frees the Arrow batches.
func (d *data) release() {
	for _, bs := range d.raw {
		for _, b := range bs {
			b.Release()
		}
	}
	for _, bs := range d.placeholders {
		for _, b := range bs {
			b.Release()
		}
	}
	for _, rs := range d.decoded {
		for _, r := range rs {
			r.Release()
		}
	}
	d.raw, d.placeholders, d.decoded = nil, nil, nil
}
