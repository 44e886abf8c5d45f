package sourcetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/shardflow/shardflow/pipeline"
)

// timedRead calls r.Read and measures it.
func timedRead(ctx context.Context, r pipeline.ShardReader, opts Options) (*pipeline.Batch, time.Duration, error) {
	start := time.Now()
	b, err := r.Read(ctx)
	return b, time.Since(start), err
}

// readShard reads shard sh after position after to its end (bounded source)
// or until it has wantN records and a further Read delivers none (unbounded
// source), checking every batch on the way.
func readShard(ctx context.Context, src pipeline.Source, sh pipeline.Shard, after pipeline.Position, wantN int, opts Options) (recs []Record, err error) {
	ctx, cancel := context.WithTimeout(ctx, opts.ShardTimeout)
	defer cancel()
	r, err := src.OpenShard(ctx, sh, after)
	if err != nil {
		return nil, fmt.Errorf("OpenShard(after %q): %w", after, err)
	}
	defer func() {
		if cerr := r.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("Close: %w", cerr)
		}
	}()
	last := after
	caughtUp := !src.Bounded() && wantN == 0 // unbounded: wantN records read, one more Read to go
	for {
		if ctx.Err() != nil {
			return recs, fmt.Errorf("read %d of %d records within %v", len(recs), wantN, opts.ShardTimeout)
		}
		b, d, err := timedRead(ctx, r, opts)
		if d > opts.ReadTimeout {
			b.Release()
			return recs, fmt.Errorf("Read took %v, want <= %v", d, opts.ReadTimeout)
		}
		switch {
		case pipeline.ReadEnded(err):
			if b != nil {
				b.Release()
				return recs, fmt.Errorf("Read returned a batch together with %v", err)
			}
			return recs, checkSticky(ctx, r, opts, err)
		case err != nil:
			b.Release()
			return recs, fmt.Errorf("Read after %d records: %w", len(recs), err)
		case b == nil:
			if caughtUp {
				return recs, nil
			}
			continue
		}
		if recs, last, err = appendBatch(recs, b, sh.ID, last); err != nil {
			return recs, err
		}
		if caughtUp {
			return recs, fmt.Errorf("unbounded source delivered %d records, want %d", len(recs), wantN)
		}
		if src.Bounded() {
			if len(recs) > wantN+1_000_000 {
				return recs, fmt.Errorf("bounded source delivered %d records and has not ended, want %d", len(recs), wantN)
			}
		} else if len(recs) >= wantN {
			caughtUp = true
		}
	}
}

// checkSticky checks that Read keeps returning end, the ErrShardEnd or
// ErrBoundReached it returned first.
func checkSticky(ctx context.Context, r pipeline.ShardReader, opts Options, end error) error {
	for i := range 2 {
		b, d, err := timedRead(ctx, r, opts)
		if b != nil {
			b.Release()
			return fmt.Errorf("Read #%d after %v returned %d records", i+1, end, b.Len())
		}
		if !errors.Is(err, end) {
			return fmt.Errorf("Read #%d after %v returned %v: the end is not sticky", i+1, end, err)
		}
		if d > opts.ReadTimeout {
			return fmt.Errorf("Read after %v took %v", end, d)
		}
	}
	return nil
}

// appendBatch checks b, appends its records to recs and releases b.
func appendBatch(recs []Record, b *pipeline.Batch, shard string, last pipeline.Position) ([]Record, pipeline.Position, error) {
	defer b.Release()
	switch {
	case b.Rec == nil:
		return recs, last, errors.New("Read returned a batch without a record batch")
	case b.Len() == 0:
		return recs, last, errors.New("Read returned an empty batch; want nil when there is no record")
	case !b.Rec.Schema().Equal(pipeline.RawSchema):
		return recs, last, fmt.Errorf("batch schema is %v, want pipeline.RawSchema", b.Rec.Schema())
	case b.Shard != shard:
		return recs, last, fmt.Errorf("batch shard is %q, want %q", b.Shard, shard)
	case b.Side != pipeline.MainSide:
		return recs, last, fmt.Errorf("batch side is %q, want the main side", b.Side)
	case b.MinTime != 0 || b.MaxTime != 0:
		return recs, last, fmt.Errorf("raw batch has event-time bounds [%d, %d], want 0", b.MinTime, b.MaxTime)
	}
	data, ok1 := b.Rec.Column(0).(*array.Binary)
	key, ok2 := b.Rec.Column(1).(*array.String)
	seq, ok3 := b.Rec.Column(2).(*array.String)
	n, ok4 := b.Rec.Column(3).(*array.Int64)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return recs, last, errors.New("batch columns do not have the array types of RawSchema")
	}
	start := len(recs)
	for i := range b.Len() {
		if data.IsNull(i) || n.IsNull(i) {
			return recs, last, fmt.Errorf("row %d has a null data or n", i)
		}
		pos := pipeline.Position{Seq: seq.Value(i), N: n.Value(i)}
		if comparePositions(pos, last) <= 0 {
			return recs, last, fmt.Errorf("position %q after %q: positions must strictly increase", pos, last)
		}
		last = pos
		recs = append(recs, Record{Data: bytes.Clone(data.Value(i)), PartitionKey: key.Value(i), Pos: pos})
	}
	if first := recs[start].Pos; b.First != first {
		return recs, last, fmt.Errorf("batch First = %q, want its first row's position %q", b.First, first)
	}
	if b.Last != last {
		return recs, last, fmt.Errorf("batch Last = %q, want its last row's position %q", b.Last, last)
	}
	return recs, last, nil
}

// comparePositions orders two positions of one shard: by Seq as a decimal
// number (the empty Seq first), then by N.
func comparePositions(a, b pipeline.Position) int {
	as, bs := strings.TrimLeft(a.Seq, "0"), strings.TrimLeft(b.Seq, "0")
	if c := len(as) - len(bs); c != 0 {
		return c
	}
	if c := strings.Compare(as, bs); c != 0 {
		return c
	}
	switch {
	case a.N < b.N:
		return -1
	case a.N > b.N:
		return 1
	}
	return 0
}

// diffRecords describes the first difference between got and want; a zero
// Pos in want is not compared.
func diffRecords(got, want []Record) error {
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		switch {
		case !bytes.Equal(g.Data, w.Data):
			return fmt.Errorf("record %d: data = %s, want %s", i, abbrev(g.Data), abbrev(w.Data))
		case g.PartitionKey != w.PartitionKey:
			return fmt.Errorf("record %d: partition key = %q, want %q", i, g.PartitionKey, w.PartitionKey)
		case !w.Pos.IsZero() && g.Pos != w.Pos:
			return fmt.Errorf("record %d: position = %q, want %q", i, g.Pos, w.Pos)
		}
	}
	switch {
	case len(got) > len(want):
		return fmt.Errorf("got %d records, want %d; first extra: %s", len(got), len(want), abbrev(got[len(want)].Data))
	case len(got) < len(want):
		return fmt.Errorf("got %d records, want %d; first missing: %s", len(got), len(want), abbrev(want[len(got)].Data))
	}
	return nil
}

func abbrev(b []byte) string {
	const max = 80
	if len(b) > max {
		return fmt.Sprintf("%q... (%d bytes)", b[:max], len(b))
	}
	return fmt.Sprintf("%q", b)
}
