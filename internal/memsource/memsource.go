// Package memsource is a pipeline.Source of batches held in memory: a bounded
// source read once into memory (Capture) and served again to every job that
// reads it, so that a benchmark measures the job without its source's cost.
package memsource

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/shardflow/shardflow/pipeline"
)

// Source serves the batches it holds, shard by shard; every Read hands over a
// new reference to the next batch, so the same Source can be read by any
// number of jobs, one after another or at once. Release gives the batches up.
type Source struct {
	name    string
	shards  []pipeline.Shard
	batches map[string][]*pipeline.Batch
}

var _ pipeline.Source = (*Source)(nil)

// Capture reads every shard of the bounded source src to its end, parents
// before children, and returns a Source that serves the same batches under
// the same shard ids and positions. It fails for an unbounded source.
func Capture(ctx context.Context, src pipeline.Source) (*Source, error) {
	if !src.Bounded() {
		return nil, fmt.Errorf("memsource: %s source is unbounded", src.Name())
	}
	shards, err := src.Shards(ctx)
	if err != nil {
		return nil, fmt.Errorf("memsource: list shards: %w", err)
	}
	m := &Source{name: src.Name(), shards: shards, batches: make(map[string][]*pipeline.Batch, len(shards))}
	for _, sh := range shards {
		if err := m.read(ctx, src, sh); err != nil {
			m.Release()
			return nil, err
		}
	}
	return m, nil
}

func (m *Source) read(ctx context.Context, src pipeline.Source, sh pipeline.Shard) error {
	r, err := src.OpenShard(ctx, sh, pipeline.Position{})
	if err != nil {
		return fmt.Errorf("memsource: open shard %s: %w", sh.ID, err)
	}
	defer r.Close()
	for {
		b, err := r.Read(ctx)
		switch {
		case pipeline.ReadEnded(err):
			return nil
		case err != nil:
			return fmt.Errorf("memsource: read shard %s: %w", sh.ID, err)
		case b != nil:
			m.batches[sh.ID] = append(m.batches[sh.ID], b)
		}
	}
}

// Release releases the batches; the Source must not be read after it.
func (m *Source) Release() {
	for _, bs := range m.batches {
		for _, b := range bs {
			b.Release()
		}
	}
	m.batches = nil
}

// Records is the number of source records the batches hold.
func (m *Source) Records() int64 {
	var n int64
	for _, bs := range m.batches {
		for _, b := range bs {
			n += b.Rec.NumRows()
		}
	}
	return n
}

// Name is the captured source's name.
func (m *Source) Name() string { return m.name }

// Bounded is true: every shard ends after its last batch.
func (m *Source) Bounded() bool { return true }

// Shards returns the captured source's shards.
func (m *Source) Shards(context.Context) ([]pipeline.Shard, error) {
	return append([]pipeline.Shard(nil), m.shards...), nil
}

// OpenShard serves the shard's batches after position after.
func (m *Source) OpenShard(_ context.Context, shard pipeline.Shard, after pipeline.Position) (pipeline.ShardReader, error) {
	bs, ok := m.batches[shard.ID]
	if !ok {
		return nil, fmt.Errorf("memsource: no shard %q", shard.ID)
	}
	r := &reader{batches: bs}
	if after.IsStart() {
		return r, nil
	}
	// Positions compare only within their own source: find the record at
	// after and serve the rest of its batch first.
	for i, b := range bs {
		row, ok := rowAt(b, after)
		if !ok {
			continue
		}
		r.next = i + 1
		if n := int(b.Rec.NumRows()); row+1 < n {
			r.head = b.WithRecord(b.Rec.NewSlice(int64(row+1), int64(n)))
			r.head.First = positionOf(b, row+1)
		}
		return r, nil
	}
	return nil, fmt.Errorf("memsource: shard %s has no record at %s", shard.ID, after)
}

// rowAt returns the row of raw batch b whose position is p.
func rowAt(b *pipeline.Batch, p pipeline.Position) (int, bool) {
	seqs := b.Rec.Column(rawSeq).(*array.String)
	ns := b.Rec.Column(rawN).(*array.Int64)
	for i := range int(b.Rec.NumRows()) {
		if ns.Value(i) == p.N && seqs.Value(i) == p.Seq {
			return i, true
		}
	}
	return 0, false
}

func positionOf(b *pipeline.Batch, row int) pipeline.Position {
	return pipeline.Position{Seq: b.Rec.Column(rawSeq).(*array.String).Value(row), N: b.Rec.Column(rawN).(*array.Int64).Value(row)}
}

// The indices of pipeline.RawSeq and pipeline.RawN in pipeline.RawSchema.
var (
	rawSeq = pipeline.RawSchema.FieldIndices(pipeline.RawSeq)[0]
	rawN   = pipeline.RawSchema.FieldIndices(pipeline.RawN)[0]
)

type reader struct {
	head    *pipeline.Batch // the rest of a batch a resume began in, or nil
	batches []*pipeline.Batch
	next    int
}

func (r *reader) Read(ctx context.Context) (*pipeline.Batch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.head != nil {
		b := r.head
		r.head = nil
		return b, nil
	}
	if r.next == len(r.batches) {
		return nil, pipeline.ErrShardEnd
	}
	b := r.batches[r.next]
	r.next++
	b.Rec.Retain()
	return b.WithRecord(b.Rec), nil
}

func (r *reader) Close() error {
	if r.head != nil {
		r.head.Release()
		r.head = nil
	}
	return nil
}
