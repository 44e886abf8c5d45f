package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// memSource is a bounded source over records held in memory. A record is
// "<event time ms>,<key>"; "bad" records are rejected by parseStage.
type memSource struct {
	mem     memory.Allocator
	shards  []Shard
	records map[string][]string
	batch   int

	mu     sync.Mutex
	reads  int                      // Read calls that returned records
	gate   chan struct{}            // when set, a Read returns records only if it can take a token
	idle   map[string]bool          // shards that stay open once read and say they are idle
	open   map[string]bool          // shards that stay open once read and do not say so
	onRead func()                   // test hook, called after each Read that returned records
	slow   map[string]time.Duration // shards whose every Read of records takes this long
	bound  map[string]int           // shards read as a bounded replay up to this many records
	opened map[string]Position      // the position each shard was last opened after
}

func (s *memSource) Name() string                            { return "mem" }
func (s *memSource) Bounded() bool                           { return true }
func (s *memSource) Shards(context.Context) ([]Shard, error) { return s.shards, nil }
func (s *memSource) OpenShard(_ context.Context, sh Shard, after Position) (ShardReader, error) {
	recs, ok := s.records[sh.ID]
	if !ok {
		return nil, fmt.Errorf("mem: no shard %s", sh.ID)
	}
	s.mu.Lock()
	if s.opened == nil {
		s.opened = map[string]Position{}
	}
	s.opened[sh.ID] = after
	s.mu.Unlock()
	return &memReader{src: s, shard: sh.ID, recs: recs, next: int(after.N), b: NewRawBuilder(s.mem)}, nil
}

type memReader struct {
	src   *memSource
	shard string
	recs  []string
	next  int
	b     *RawBuilder
}

func (r *memReader) Read(ctx context.Context) (*Batch, error) {
	if n, ok := r.src.bound[r.shard]; ok && r.next >= n {
		return nil, ErrBoundReached
	}
	if r.next >= len(r.recs) {
		if r.src.idle[r.shard] || r.src.open[r.shard] { // stays open, polling like Kinesis, until the job stops
			select {
			case <-time.After(100 * time.Millisecond):
				return nil, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return nil, ErrShardEnd
	}
	if r.src.gate != nil {
		select {
		case <-r.src.gate:
		case <-time.After(time.Millisecond):
			return nil, nil // nothing let through: return, as Read must, within a moment
		}
	}
	if d := r.src.slow[r.shard]; d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	limit := len(r.recs)
	if n, ok := r.src.bound[r.shard]; ok {
		limit = min(limit, n)
	}
	for i := 0; i < r.src.batch && r.next < limit; i++ {
		r.next++
		r.b.Append([]byte(r.recs[r.next-1]), "", OffsetPosition(int64(r.next)), 0)
	}
	r.src.mu.Lock()
	r.src.reads++
	hook := r.src.onRead
	r.src.mu.Unlock()
	if hook != nil {
		hook()
	}
	return r.b.NewBatch(r.shard), nil
}

func (r *memReader) Idle() bool   { return r.src.idle[r.shard] && r.next >= len(r.recs) }
func (r *memReader) Close() error { r.b.Release(); return nil }

var parsedSchema = arrow.NewSchema([]arrow.Field{
	{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_ms},
	{Name: "key", Type: arrow.BinaryTypes.String},
}, nil)

// parseStage decodes "<ms>,<key>" records; anything else is a dead letter.
type parseStage struct{}

func (parseStage) Name() string { return "parse" }
func (parseStage) Bind(in *arrow.Schema) (*arrow.Schema, func(OperatorEnv) (Operator, error), error) {
	if !in.Equal(RawSchema) {
		return nil, nil, errors.New("parse: want raw records")
	}
	return parsedSchema, func(env OperatorEnv) (Operator, error) { return &parseOp{env: env}, nil }, nil
}

type parseOp struct {
	env      OperatorEnv
	rejected int64
}

func (p *parseOp) Counters() map[string]int64 { return map[string]int64{"rejected": p.rejected} }

func (p *parseOp) Process(_ context.Context, b *Batch, emit Emit) error {
	defer b.Release()
	rb := array.NewRecordBuilder(p.env.Mem, parsedSchema)
	defer rb.Release()
	dl := NewDeadLetterBuilder(p.env.Mem, p.env.Source)
	defer dl.Release()
	data := b.Rec.Column(0).(*array.Binary)
	n := b.Rec.Column(3).(*array.Int64)
	for i := 0; i < data.Len(); i++ {
		ts, key, ok := bytes.Cut(data.Value(i), []byte(","))
		ms, err := strconv.ParseInt(string(ts), 10, 64)
		if !ok || err != nil {
			dl.Append(b.Shard, OffsetPosition(n.Value(i)), errors.New("parse: not <ms>,<key>"), data.Value(i))
			p.rejected++
			continue
		}
		rb.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(ms))
		rb.Field(1).(*array.StringBuilder).Append(string(key))
	}
	if d := dl.NewBatch(b.Shard); d != nil {
		emit(d)
	}
	emit(b.WithRecord(rb.NewRecordBatch()))
	return nil
}

// countWindows is a keyed operator: per tumbling window of size ms and key, a
// count, emitted as "start/key=count" rows when the watermark passes the end.
type countWindows struct {
	size   int64
	mem    memory.Allocator
	counts map[int64]map[string]int64
	fired  int64
	wm     int64 // the last watermark; rows of windows that end at or before it are late
	late   int64
}

var countSchema = arrow.NewSchema([]arrow.Field{{Name: "row", Type: arrow.BinaryTypes.String}}, nil)

type countStage struct{ size int64 }

func (s countStage) KeyedStage(keys []string, eventTime string) (Stage, error) {
	if len(keys) != 1 || keys[0] != "key" || eventTime != "ts" {
		return nil, fmt.Errorf("count: keys %v time %q", keys, eventTime)
	}
	return s, nil
}
func (s countStage) Name() string { return fmt.Sprintf("count(%d)", s.size) }
func (s countStage) Bind(in *arrow.Schema) (*arrow.Schema, func(OperatorEnv) (Operator, error), error) {
	return countSchema, func(env OperatorEnv) (Operator, error) {
		return &countWindows{size: s.size, mem: env.Mem, counts: map[int64]map[string]int64{}, wm: MinTime}, nil
	}, nil
}

func (w *countWindows) Process(_ context.Context, b *Batch, _ Emit) error {
	defer b.Release()
	ts := b.Rec.Column(0).(*array.Timestamp)
	keys := b.Rec.Column(1).(*array.String)
	for i := 0; i < ts.Len(); i++ {
		start := int64(ts.Value(i)) / w.size * w.size
		if start+w.size <= w.wm {
			w.late++
			continue
		}
		if w.counts[start] == nil {
			w.counts[start] = map[string]int64{}
		}
		w.counts[start][keys.Value(i)]++
	}
	return nil
}

func (w *countWindows) OnWatermark(_ context.Context, wm int64, emit Emit) error {
	w.wm = wm
	rb := array.NewRecordBuilder(w.mem, countSchema)
	defer rb.Release()
	for _, start := range slices.Sorted(maps.Keys(w.counts)) {
		if start+w.size > wm && wm != MaxTime {
			break
		}
		for _, k := range slices.Sorted(maps.Keys(w.counts[start])) {
			rb.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("%d/%s=%d", start, k, w.counts[start][k]))
		}
		delete(w.counts, start)
		w.fired++
	}
	emit(&Batch{Rec: rb.NewRecordBatch()})
	return nil
}

func (w *countWindows) Snapshot() ([]byte, error) {
	var sb strings.Builder
	for start, m := range w.counts {
		for k, n := range m {
			fmt.Fprintf(&sb, "%d %s %d\n", start, k, n)
		}
	}
	return []byte(sb.String()), nil
}

func (w *countWindows) Restore(state []byte) error {
	w.counts = map[int64]map[string]int64{}
	for _, line := range strings.Split(strings.TrimSpace(string(state)), "\n") {
		if line == "" {
			continue
		}
		var start, n int64
		var k string
		if _, err := fmt.Sscanf(line, "%d %s %d", &start, &k, &n); err != nil {
			return err
		}
		if w.counts[start] == nil {
			w.counts[start] = map[string]int64{}
		}
		w.counts[start][k] = n
	}
	return nil
}

func (w *countWindows) Counters() map[string]int64 {
	return map[string]int64{"windows_fired": w.fired, "late_rows": w.late}
}

// memStore is an in-memory CheckpointStore.
type memStore struct {
	mu    sync.Mutex
	saved []*Checkpoint
	fail  error
	epoch uint64
}

func (s *memStore) Acquire(context.Context, string) (StoreLock, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch++
	return memLock(s.epoch), nil
}

type memLock uint64

func (l memLock) Epoch() uint64 { return uint64(l) }
func (memLock) Release() error  { return nil }

func (s *memStore) Save(_ context.Context, cp *Checkpoint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.saved = append(s.saved, cp)
	return nil
}

func (s *memStore) Latest(_ context.Context, job string) (*Checkpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.saved) == 0 {
		return nil, nil
	}
	return s.saved[len(s.saved)-1], nil
}

// memSink is a two-phase-commit sink that keeps rows as strings. Rows become
// visible in committed only through Commit; staged rows are lost on a crash,
// like temporary files that recovery deletes.
type memSink struct {
	name      string
	mu        sync.Mutex
	staged    []string
	precommit map[uint64][]string // pre-committed, not yet committed (survive a crash, like files on disk)
	committed []string
	commits   map[uint64]bool
	onWrite   func() // test hook, called after each Write
	recovered []Recovery
	written   int64 // rows written, in this sink's life
}

func (s *memSink) Counters() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return map[string]int64{"rows_written": s.written}
}

func newMemSink(name string) *memSink {
	return &memSink{name: name, precommit: map[uint64][]string{}, commits: map[uint64]bool{}}
}

func (s *memSink) Name() string                { return s.name }
func (s *memSink) Bind(*arrow.Schema) error    { return nil }
func (s *memSink) Close(context.Context) error { return nil }

func (s *memSink) Write(_ context.Context, b *Batch) error {
	defer b.Release()
	s.mu.Lock()
	for i := 0; i < b.Len(); i++ {
		row := make([]string, b.Rec.NumCols())
		for c := range row {
			row[c] = b.Rec.Column(c).ValueStr(i)
		}
		s.staged = append(s.staged, strings.Join(row, "|"))
	}
	s.written += int64(b.Len())
	hook := s.onWrite
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	return nil
}

func (s *memSink) PreCommit(_ context.Context, id uint64) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.precommit[id] = s.staged
	s.staged = nil
	return []byte(strconv.FormatUint(id, 10)), nil
}

func (s *memSink) Commit(_ context.Context, id uint64, handle []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if string(handle) != strconv.FormatUint(id, 10) {
		return fmt.Errorf("memsink: handle %q for checkpoint %d", handle, id)
	}
	if s.commits[id] {
		return nil
	}
	s.commits[id] = true
	s.committed = append(s.committed, s.precommit[id]...)
	delete(s.precommit, id)
	return nil
}

func (s *memSink) Recover(ctx context.Context, r Recovery) error {
	id, handle := r.ID, r.Handle
	s.mu.Lock()
	s.recovered = append(s.recovered, r)
	s.staged = nil
	for pid := range s.precommit {
		if pid != id {
			delete(s.precommit, pid) // staged after the checkpoint: aborted
		}
	}
	s.mu.Unlock()
	if handle == nil {
		return nil
	}
	return s.Commit(ctx, id, handle)
}

func (s *memSink) rows() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.committed)
	sort.Strings(out)
	return out
}
