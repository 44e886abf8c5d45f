package operators

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
)

// Dedupe returns the stage that drops a row whose key (column key) its shard
// has already kept within ttl of event time (column eventTime), as producers'
// retries repeat a record with the same event_id:
//
//	Apply(operators.Dedupe("event_id", "ts", 10*time.Minute))
//
// Each shard keeps the keys it has kept, with the event time of the row that
// put them there, and measures time by its own clock: the highest event time
// it has seen. A key is forgotten once that clock has passed its event time
// by more than ttl; after that the key's next row is kept again and
// remembered anew. A row that arrives already older than the clock minus ttl
// is kept and not remembered, so a duplicate of a row that late is not
// dropped. A null key is never a duplicate; a null event time counts as the
// clock. Rows keep their order.
//
// The keys are checkpointed with the shard (pipeline.LocalSnapshotter), so a
// restart drops exactly what an uninterrupted run drops. A child shard of a
// Kinesis split or merge starts with the union of its parents' final keys,
// on the clock of the parent that is furthest ahead, so a retry that lands
// in the child after the reshard is still a duplicate.
//
// Memory: a shard holds the keys of the rows it kept with event times in the
// last ttl + ttl/8 of its clock (expiry runs in eighths of ttl), at about 55
// bytes (map slot, expiry bucket) plus one to two times the key's length (the
// key bytes live in one arena per eighth of ttl, reused whole once it
// expires). Ten minutes of 1000 new events/s with 33-byte ids is about
// 650,000 keys: 60 MB of heap per shard once steady (measured), and 23 MB in
// every checkpoint. The counters report duplicate_rows, dedupe_keys and
// dedupe_key_bytes.
//
// The key column is a string, binary or fixed-width column (an integer id);
// eventTime is a timestamp column; ttl is at least one unit of it.
func Dedupe(key, eventTime string, ttl time.Duration) pipeline.Stage {
	return &dedupeStage{key: key, eventTime: eventTime, ttl: ttl}
}

var _ pipeline.Stage = (*dedupeStage)(nil)

type dedupeStage struct {
	key, eventTime string
	ttl            time.Duration
	hash           func([]byte) uint64 // test hook; nil: maphash with a seed per instance
}

func (s *dedupeStage) Name() string {
	return fmt.Sprintf("dedupe(%s, %s, %s)", s.key, s.eventTime, s.ttl)
}

func (s *dedupeStage) Bind(in *arrow.Schema) (*arrow.Schema, func(pipeline.OperatorEnv) (pipeline.Operator, error), error) {
	if in == nil {
		return nil, nil, errors.New("operators: dedupe: nil input schema")
	}
	keyCol, err := dedupeColumn(in, s.key)
	if err != nil {
		return nil, nil, fmt.Errorf("operators: dedupe: key: %w", err)
	}
	keyType := in.Field(keyCol).Type
	var width int
	switch fw, ok := keyType.(arrow.FixedWidthDataType); {
	case keyType.ID() == arrow.STRING || keyType.ID() == arrow.BINARY:
	case ok && keyType.ID() != arrow.BOOL && fw.BitWidth()%8 == 0:
		width = fw.BitWidth() / 8
	default:
		return nil, nil, fmt.Errorf("operators: dedupe: key column %q is %s, want utf8, binary or a fixed-width type", s.key, keyType)
	}
	timeCol, err := dedupeColumn(in, s.eventTime)
	if err != nil {
		return nil, nil, fmt.Errorf("operators: dedupe: event time: %w", err)
	}
	tt, ok := in.Field(timeCol).Type.(*arrow.TimestampType)
	if !ok {
		return nil, nil, fmt.Errorf("operators: dedupe: event-time column %q is %s, want a timestamp", s.eventTime, in.Field(timeCol).Type)
	}
	ttl := int64(s.ttl / tt.Unit.Multiplier())
	if ttl < 1 {
		return nil, nil, fmt.Errorf("operators: dedupe: ttl %v: want at least 1%s", s.ttl, tt.Unit)
	}
	for _, f := range in.Fields() {
		if err := takeSupported(f.Type); err != nil {
			return nil, nil, fmt.Errorf("operators: dedupe: column %q: %w", f.Name, err)
		}
	}
	hash := s.hash
	newOp := func(env pipeline.OperatorEnv) (pipeline.Operator, error) {
		if env.Mem == nil {
			return nil, errors.New("operators: dedupe: OperatorEnv.Mem is nil")
		}
		h := hash
		if h == nil {
			seed := maphash.MakeSeed()
			h = func(b []byte) uint64 { return maphash.Bytes(seed, b) }
		}
		return &DedupeOperator{mem: env.Mem, keyCol: keyCol, keyWidth: width, timeCol: timeCol, keys: newDedupeKeys(ttl, h)}, nil
	}
	return in, newOp, nil
}

func dedupeColumn(in *arrow.Schema, name string) (int, error) {
	idx := in.FieldIndices(name)
	if len(idx) != 1 {
		return 0, fmt.Errorf("column %q not in schema (have: %s)", name, dedupeFieldNames(in))
	}
	return idx[0], nil
}

func dedupeFieldNames(s *arrow.Schema) string {
	out := ""
	for i, f := range s.Fields() {
		if i > 0 {
			out += ", "
		}
		out += f.Name
	}
	return out
}

// DedupeOperator is an instance of the Dedupe stage, for one shard.
type DedupeOperator struct {
	mem      memory.Allocator
	keyCol   int
	keyWidth int // bytes per key of a fixed-width key column, 0 for utf8 and binary
	timeCol  int
	keys     *dedupeKeys
	idx      []int32
	dups     int64
}

var (
	_ pipeline.Operator         = (*DedupeOperator)(nil)
	_ pipeline.CounterReporter  = (*DedupeOperator)(nil)
	_ pipeline.LocalSnapshotter = (*DedupeOperator)(nil)
)

// Process drops the batch's duplicates, a row at a time in order, and gathers
// the rows it keeps as Filter does. A batch without duplicates goes on as it
// is.
func (d *DedupeOperator) Process(ctx context.Context, b *pipeline.Batch, emit pipeline.Emit) error {
	n := b.Len()
	if n == 0 {
		b.Release()
		return nil
	}
	ts := b.Rec.Column(d.timeCol).(*array.Timestamp)
	times := ts.TimestampValues()
	keyArr := b.Rec.Column(d.keyCol)
	var offsets []int32
	var data []byte
	switch a := keyArr.(type) {
	case *array.String:
		offsets, data = a.ValueOffsets(), a.ValueBytes()
	case *array.Binary:
		offsets, data = a.ValueOffsets(), a.ValueBytes()
	default:
		if buf := keyArr.Data().Buffers()[1]; buf != nil {
			data = buf.Bytes()[keyArr.Data().Offset()*d.keyWidth:]
		}
	}
	d.idx = d.idx[:0]
	for i := range n {
		t := d.keys.clock
		if ts.IsValid(i) {
			t = int64(times[i])
			d.keys.advance(t) // a row with a null key moves the clock too
		}
		keep := true
		if keyArr.IsValid(i) {
			var key []byte
			if offsets != nil {
				key = data[offsets[i]:offsets[i+1]]
			} else {
				key = data[i*d.keyWidth : (i+1)*d.keyWidth]
			}
			var err error
			if keep, err = d.keys.see(key, t); err != nil {
				b.Release()
				return fmt.Errorf("operators: dedupe: shard %s: %w", b.Shard, err)
			}
		}
		if keep {
			d.idx = append(d.idx, int32(i))
		}
	}
	d.dups += int64(n - len(d.idx))
	return emitRows(d.mem, "dedupe", b, d.idx, emit)
}

// Counters reports duplicate_rows (dropped in this run), and the keys the
// shard remembers now and their bytes.
func (d *DedupeOperator) Counters() map[string]int64 {
	return map[string]int64{"duplicate_rows": d.dups, "dedupe_keys": int64(d.keys.len), "dedupe_key_bytes": int64(d.keys.keyBytes())}
}

// SnapshotLocal returns the remembered keys (see dedupeKeys.snapshot).
func (d *DedupeOperator) SnapshotLocal() ([]byte, error) { return d.keys.snapshot(), nil }

// RestoreLocal replaces the remembered keys with the union of states.
func (d *DedupeOperator) RestoreLocal(states [][]byte) error {
	if err := d.keys.restore(states); err != nil {
		return fmt.Errorf("operators: dedupe: %w", err)
	}
	return nil
}
