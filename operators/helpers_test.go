package operators

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
)

// newOp binds stage to in and creates one instance for shard "shard-1" of
// source "test".
func newOp(t testing.TB, mem memory.Allocator, stage pipeline.Stage, in *arrow.Schema) (*arrow.Schema, pipeline.Operator) {
	t.Helper()
	out, newOp, err := stage.Bind(in)
	if err != nil {
		t.Fatalf("%s: Bind: %v", stage.Name(), err)
	}
	op, err := newOp(pipeline.OperatorEnv{Mem: mem, Source: "test", Shard: "shard-1"})
	if err != nil {
		t.Fatalf("%s: new operator: %v", stage.Name(), err)
	}
	return out, op
}

// collect runs op on b and returns what it emitted, main side and dead
// letters apart. The caller releases them.
func collect(t testing.TB, op pipeline.Operator, b *pipeline.Batch) (main, dead []*pipeline.Batch) {
	t.Helper()
	err := op.Process(context.Background(), b, func(out *pipeline.Batch) {
		switch out.Side {
		case pipeline.MainSide:
			main = append(main, out)
		case pipeline.DeadLetterSide:
			dead = append(dead, out)
		default:
			t.Errorf("batch on unexpected side %q", out.Side)
			out.Release()
		}
	})
	if err != nil {
		t.Fatalf("Process: %v", err)
	}
	return main, dead
}

func releaseAll(bs []*pipeline.Batch) {
	for _, b := range bs {
		b.Release()
	}
}

// rowStrings renders each row of rec as "col=value ..." with Arrow's
// ValueStr, timestamps[ms] in RFC 3339; nulls read "col=null".
func rowStrings(rec arrow.RecordBatch) []string {
	rows := make([]string, rec.NumRows())
	for i := range rows {
		var sb strings.Builder
		for c, col := range rec.Columns() {
			if c > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(rec.ColumnName(c))
			sb.WriteByte('=')
			if col.IsNull(i) {
				sb.WriteString("null")
			} else if ts, ok := col.(*array.Timestamp); ok {
				sb.WriteString(time.UnixMilli(int64(ts.Value(i))).UTC().Format("2006-01-02T15:04:05.000Z"))
			} else {
				sb.WriteString(col.ValueStr(i))
			}
		}
		rows[i] = sb.String()
	}
	return rows
}

// deadLetter is one row of a dead-letter batch.
type deadLetter struct {
	source, shard, position, err, payload string
}

func deadLetters(t testing.TB, b *pipeline.Batch) []deadLetter {
	t.Helper()
	if !b.Rec.Schema().Equal(pipeline.DeadLetterSchema) {
		t.Fatalf("dead-letter batch has schema %s", b.Rec.Schema())
	}
	out := make([]deadLetter, b.Len())
	for i := range out {
		cell := func(c int) string { return b.Rec.Column(c).ValueStr(i) }
		out[i] = deadLetter{cell(0), cell(1), cell(2), cell(3), string(b.Rec.Column(4).(interface{ Value(int) []byte }).Value(i))}
	}
	return out
}

func (d deadLetter) String() string {
	return fmt.Sprintf("%s/%s@%s: %s: %s", d.source, d.shard, d.position, d.err, d.payload)
}
