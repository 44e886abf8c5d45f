package kinesis

import (
	"context"
	"errors"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.uber.org/goleak"

	"github.com/shardflow/shardflow/pipeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// row is one row a reader returned: a raw record or a dead letter.
type row struct {
	Pos     pipeline.Position
	Key     string
	Data    string
	Arrival int64
	Dead    string // the dead letter's error; "" for a raw record
	Shard   string
}

// rows copies b's rows out and releases b.
func rows(t testing.TB, b *pipeline.Batch) []row {
	t.Helper()
	defer b.Release()
	var out []row
	rec := b.Rec
	if b.Side == pipeline.DeadLetterSide {
		pos := rec.Column(2).(*array.String)
		msg := rec.Column(3).(*array.String)
		payload := rec.Column(4).(*array.Binary)
		for i := 0; i < int(rec.NumRows()); i++ {
			out = append(out, row{Pos: parsePosString(pos.Value(i)), Data: string(payload.Value(i)), Dead: msg.Value(i), Shard: b.Shard})
		}
		return out
	}
	if !rec.Schema().Equal(pipeline.RawSchema) {
		t.Fatalf("batch schema %v, want RawSchema", rec.Schema())
	}
	data := rec.Column(0).(*array.Binary)
	key := rec.Column(1).(*array.String)
	seq := rec.Column(2).(*array.String)
	n := rec.Column(3).(*array.Int64)
	arr := rec.Column(4).(*array.Timestamp)
	for i := 0; i < int(rec.NumRows()); i++ {
		out = append(out, row{
			Pos: pipeline.Position{Seq: seq.Value(i), N: n.Value(i)}, Key: key.Value(i),
			Data: string(data.Value(i)), Arrival: int64(arr.Value(i)), Shard: b.Shard,
		})
	}
	if first, last := out[0].Pos, out[len(out)-1].Pos; b.First != first || b.Last != last {
		t.Fatalf("batch First/Last %v/%v, rows %v..%v", b.First, b.Last, first, last)
	}
	return out
}

func parsePosString(s string) pipeline.Position {
	for i := range len(s) {
		if s[i] == '/' {
			var n int64
			for _, c := range s[i+1:] {
				n = n*10 + int64(c-'0')
			}
			return pipeline.Position{Seq: s[:i], N: n}
		}
	}
	return pipeline.Position{Seq: s}
}

// drain reads r until the shard ends or reaches its bound, or until done
// reports true after a Read (nil batches included); it fails t on any other
// error.
func drain(ctx context.Context, t testing.TB, r pipeline.ShardReader, done func([]row) bool) []row {
	t.Helper()
	var got []row
	for {
		b, err := r.Read(ctx)
		if errors.Is(err, pipeline.ErrShardEnd) || errors.Is(err, pipeline.ErrBoundReached) {
			return got
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if b != nil {
			got = append(got, rows(t, b)...)
		}
		if done != nil && done(got) {
			return got
		}
	}
}

func checkedMem(t testing.TB) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}
