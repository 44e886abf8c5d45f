package pipeline

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const window = 1000 // ms

// testInput makes shards of records with event times rising by 10ms per
// record, out of order by up to 400ms (< the 500ms bound), over keys a..e; every
// 97th record is malformed.
func testInput(shards, perShard int, seed uint64) map[string][]string {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := map[string][]string{}
	for s := range shards {
		id := fmt.Sprintf("s%d", s)
		for i := range perShard {
			if i%97 == 96 {
				out[id] = append(out[id], fmt.Sprintf("garbage-%s-%d", id, i))
				continue
			}
			ts := int64(i*10) - rng.Int64N(400) + 400
			out[id] = append(out[id], fmt.Sprintf("%d,%c", ts, 'a'+rng.IntN(5)))
		}
	}
	return out
}

// expected computes the committed rows of an uninterrupted run directly.
func expected(input map[string][]string) (rows, dead []string) {
	counts := map[string]int{}
	for _, recs := range input {
		for _, r := range recs {
			var ts int64
			var key string
			if _, err := fmt.Sscanf(strings.Replace(r, ",", " ", 1), "%d %s", &ts, &key); err != nil {
				dead = append(dead, r)
				continue
			}
			counts[fmt.Sprintf("%d/%s", ts/window*window, key)]++
		}
	}
	for k, n := range counts {
		rows = append(rows, fmt.Sprintf("%s=%d", k, n))
	}
	slices.Sort(rows)
	slices.Sort(dead)
	return rows, dead
}

func newSource(mem memory.Allocator, input map[string][]string, batch int) *memSource {
	src := &memSource{mem: mem, records: input, batch: batch, idle: map[string]bool{}, open: map[string]bool{}}
	for _, id := range slices.Sorted(maps.Keys(input)) {
		src.shards = append(src.shards, Shard{ID: id})
	}
	return src
}

func testJob(src Source, out, dead Sink, store CheckpointStore, interval time.Duration, opts ...Option) (*Job, error) {
	b := New("test").From(src).Decode(parseStage{}).Watermark("ts", 500*time.Millisecond).
		KeyBy("key").Window(countStage{size: window}).To(out)
	if dead != nil {
		b = b.DeadLetters(dead)
	}
	if store != nil {
		b = b.Checkpoints(store, interval)
	}
	return b.Build(opts...)
}

func deadPayloads(s *memSink) []string {
	var out []string
	for _, r := range s.rows() {
		payload, err := base64.StdEncoding.DecodeString(strings.Split(r, "|")[4]) // Arrow renders binary as base64
		if err != nil {
			panic(err)
		}
		out = append(out, string(payload))
	}
	slices.Sort(out)
	return out
}

func TestRunBoundedInput(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	input := testInput(3, 500, 1)
	out, dead := newMemSink("out"), newMemSink("dead")
	job, err := testJob(newSource(mem, input, 64), out, dead, &memStore{}, time.Hour, WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantRows, wantDead := expected(input)
	if got := out.rows(); !slices.Equal(got, wantRows) {
		t.Errorf("rows:\n got %d %v\nwant %d %v", len(got), head(got), len(wantRows), head(wantRows))
	}
	if got := deadPayloads(dead); !slices.Equal(got, wantDead) {
		t.Errorf("dead letters: got %v, want %v", got, wantDead)
	}
	st := job.Stats()
	if st.RecordsIn != 1500 || st.DeadLetters != int64(len(wantDead)) || !st.Finished || st.Watermark != MaxTime {
		t.Errorf("stats: %+v", st)
	}
	if st.RowsOut != int64(len(wantRows)) || st.Counters["windows_fired"] == 0 {
		t.Errorf("stats: rows out %d (want %d), counters %v", st.RowsOut, len(wantRows), st.Counters)
	}
}

func head(s []string) []string { return s[:min(len(s), 5)] }

// TestCrashAnywhereIsExactlyOnce kills the job at random points (a cancelled
// context, or a failed commit after the checkpoint was saved) and restarts it
// until it finishes: the committed output equals an uninterrupted run's.
func TestCrashAnywhereIsExactlyOnce(t *testing.T) {
	for seed := uint64(1); seed <= 16; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			rng := rand.New(rand.NewPCG(seed, 2))
			input := testInput(4, 400, seed)
			wantRows, wantDead := expected(input)
			store := &memStore{}
			out, dead := newMemSink("out"), newMemSink("dead")
			restarts := 0
			for ; ; restarts++ {
				if restarts > 300 {
					t.Fatal("job did not finish after 300 restarts")
				}
				ctx, crash := context.WithCancel(context.Background())
				// crash after a random number of batches read or of sink writes
				var events atomic.Int64
				crashAt := 1 + rng.Int64N(50)
				tick := func() {
					if events.Add(1) == crashAt {
						crash()
					}
				}
				out.onWrite = tick
				store.fail = nil
				src := newSource(mem, input, 1+rng.IntN(50))
				src.onRead = tick
				job, err := testJob(src, out, dead, &crashingStore{memStore: store, rng: rng, crash: crash}, time.Millisecond, WithAllocator(mem))
				if err != nil {
					t.Fatal(err)
				}
				err = job.Run(ctx)
				crash()
				if err == nil {
					break
				}
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("run %d: %v", restarts, err)
				}
			}
			if got := out.rows(); !slices.Equal(got, wantRows) {
				t.Errorf("after %d restarts: rows differ:\n got %d %v\nwant %d %v", restarts, len(got), head(got), len(wantRows), head(wantRows))
			}
			if got := deadPayloads(dead); !slices.Equal(got, wantDead) {
				t.Errorf("after %d restarts: dead letters: got %d, want %d", restarts, len(got), len(wantDead))
			}
			t.Logf("%d restarts, %d checkpoints", restarts, len(store.saved))
		})
	}
}

// crashingStore crashes the job now and then right after a checkpoint was
// saved, before the sinks were told to commit it.
type crashingStore struct {
	*memStore
	rng   *rand.Rand
	crash context.CancelFunc
}

func (s *crashingStore) Save(ctx context.Context, cp *Checkpoint) error {
	if err := s.memStore.Save(ctx, cp); err != nil {
		return err
	}
	if s.rng.IntN(8) == 0 {
		s.crash()
		return context.Canceled
	}
	return nil
}

func TestShutdownKeepsOpenWindows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	input := testInput(2, 2000, 3)
	wantRows, _ := expected(input)
	store := &memStore{}
	out, dead := newMemSink("out"), newMemSink("dead")

	src := newSource(mem, input, 10)
	src.gate = make(chan struct{})
	job, err := testJob(src, out, dead, store, time.Hour, WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- job.Run(context.Background()) }()
	for range 100 { // let 100 batches through, then stop
		src.gate <- struct{}{}
	}
	if err := job.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run after Shutdown: %v", err)
	}
	st := job.Stats()
	if st.Finished || st.Checkpoints != 1 || len(store.saved) != 1 {
		t.Fatalf("after shutdown: finished=%v checkpoints=%d saved=%d", st.Finished, st.Checkpoints, len(store.saved))
	}
	cp := store.saved[0]
	if len(cp.Operators["count(1000)"]) == 0 {
		t.Error("final checkpoint holds no window state")
	}
	var read int64
	for _, s := range cp.Shards {
		read += s.Position.N
	}
	// The 100 batches let through, less what each shard's reader had read
	// ahead when the final barrier came: one batch of 10 waiting in the
	// read-ahead and one held by the reader.
	if read > 1000 || read < 1000-2*2*10 {
		t.Errorf("checkpoint covers %d records, want 960..1000 of the 1000 let through", read)
	}

	src.gate = nil
	job, err = testJob(src, out, dead, store, time.Hour, WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := out.rows(); !slices.Equal(got, wantRows) {
		t.Errorf("rows after resume differ: got %d, want %d", len(got), len(wantRows))
	}
	if st := job.Stats(); st.ResumedFrom != 1 || st.RecordsIn != 4000-read {
		t.Errorf("second run: resumed from %d, read %d records", st.ResumedFrom, st.RecordsIn)
	}

	// A third run finds every shard finished and does nothing.
	job, err = testJob(src, out, dead, store, time.Hour, WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := job.Stats(); st.RecordsIn != 0 || !st.Finished {
		t.Errorf("third run: read %d records, finished %v", st.RecordsIn, st.Finished)
	}
}

func TestDeadLetterWithoutSinkFails(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	input := map[string][]string{"s0": {"10,a", "oops", "20,b"}}
	job, err := testJob(newSource(mem, input, 10), newMemSink("out"), nil, nil, 0, WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	err = job.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "shard s0 position 2 rejected: parse: not <ms>,<key>") {
		t.Fatalf("got %v", err)
	}
}

func TestIncompatibleCheckpointIsRefused(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	store := &memStore{saved: []*Checkpoint{{ID: 7, Job: "test", Fingerprint: "other"}}}
	job, err := testJob(newSource(mem, testInput(1, 10, 1), 10), newMemSink("out"), newMemSink("dead"), store, time.Second, WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Run(context.Background()); !errors.Is(err, ErrIncompatibleCheckpoint) {
		t.Fatalf("got %v, want ErrIncompatibleCheckpoint", err)
	}
}

func TestParentsBeforeChildren(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	// p splits into c1 and c2, which merge into m.
	input := map[string][]string{}
	for _, id := range []string{"p", "c1", "c2", "m"} {
		for i := range 50 {
			input[id] = append(input[id], fmt.Sprintf("%d,%s", i, id))
		}
	}
	src := newSource(mem, input, 7)
	src.shards = []Shard{{ID: "m", Parents: []string{"c1", "c2"}}, {ID: "c1", Parents: []string{"p"}}, {ID: "c2", Parents: []string{"p"}}, {ID: "p"}}
	log := &eventLog{}
	out := newMemSink("out")
	job, err := New("lineage").From(&loggingSource{memSource: src, log: log}).Decode(parseStage{}).To(out).Build(WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for child, parents := range map[string][]string{"c1": {"p"}, "c2": {"p"}, "m": {"c1", "c2"}} {
		for _, p := range parents {
			if log.index("open "+child) < log.index("end "+p) {
				t.Errorf("%s opened before %s ended: %v", child, p, log.events)
			}
		}
	}
	if got := len(out.rows()); got != 200 {
		t.Errorf("rows: got %d, want 200", got)
	}
}

type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) add(e string) { l.mu.Lock(); l.events = append(l.events, e); l.mu.Unlock() }
func (l *eventLog) index(e string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Index(l.events, e)
}

type loggingSource struct {
	*memSource
	log *eventLog
}

func (s *loggingSource) OpenShard(ctx context.Context, sh Shard, after Position) (ShardReader, error) {
	s.log.add("open " + sh.ID)
	r, err := s.memSource.OpenShard(ctx, sh, after)
	return &loggingReader{ShardReader: r, id: sh.ID, log: s.log}, err
}

type loggingReader struct {
	ShardReader
	id  string
	log *eventLog
}

func (r *loggingReader) Read(ctx context.Context) (*Batch, error) {
	b, err := r.ShardReader.Read(ctx)
	if errors.Is(err, ErrShardEnd) {
		r.log.add("end " + r.id)
	}
	return b, err
}

// TestIdleShardDoesNotHoldWatermark: shard "quiet" never produces a record but
// says it is idle, so the windows of shard "busy" fire while the job runs.
func TestIdleShardDoesNotHoldWatermark(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		input := map[string][]string{"busy": {"100,a", "1200,a", "2600,a"}, "quiet": nil}
		src := newSource(mem, input, 1)
		src.idle["quiet"], src.open["busy"] = true, true
		out := newMemSink("out")
		job, err := testJob(src, out, newMemSink("dead"), nil, time.Hour, WithAllocator(mem))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- job.Run(context.Background()) }()
		time.Sleep(time.Second) // fake time: both shards have polled a few times since
		synctest.Wait()         // busy has been read and polls on; quiet says it is idle
		if st := job.Stats(); st.Watermark != 2100 {
			t.Errorf("watermark %d, want 2600-500", st.Watermark)
		}
		if err := job.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got, want := out.rows(), []string{"0/a=1", "1000/a=1"}; !slices.Equal(got, want) {
			t.Errorf("rows %v, want %v", got, want)
		}
	})
}

// TestBackpressureBoundsMemory: with a sink that does not keep up, the shard
// tasks stop reading once the queue is full.
func TestBackpressureBoundsMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		src := newSource(mem, testInput(2, 5000, 4), 10)
		out := newMemSink("out")
		unblock := make(chan struct{})
		out.onWrite = func() { <-unblock }
		job, err := New("bp").From(src).Decode(parseStage{}).To(out).Build(WithAllocator(mem), WithQueue(4))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- job.Run(ctx) }()
		synctest.Wait() // the sink blocks on its first write, the queue fills, the readers block
		src.mu.Lock()
		reads := src.reads
		src.mu.Unlock()
		// one batch in the sink, 4 in the sink's queue, one being sent by the
		// coordinator, 4 in the coordinator's queue, and per shard: one being
		// sent by the task, one in the read-ahead, one held by the reader
		if reads > 1+4+1+4+2*3 {
			t.Errorf("%d batches read while the sink was blocked, want at most 16", reads)
		}
		cancel()
		close(unblock)
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestBuildErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	src := newSource(mem, testInput(1, 1, 1), 1)
	out := newMemSink("out")
	for _, tc := range []struct {
		name string
		b    *Builder
		want string
	}{
		{"no source", New("j").To(out), "no source: call From"},
		{"no sink", New("j").From(src), "no sink: call To"},
		{"bad name", New("a/b").From(src).To(out), "bad job name"},
		{"unknown time column", New("j").From(src).Decode(parseStage{}).Watermark("when", time.Second).To(out), `Watermark: column "when" not in schema (have: ts, key)`},
		{"time column not a timestamp", New("j").From(src).Decode(parseStage{}).Watermark("key", time.Second).To(out), `column "key" is utf8, want a timestamp`},
		{"window without watermark", New("j").From(src).Decode(parseStage{}).KeyBy("key").Window(countStage{size: 1}).To(out), "Window needs event time"},
		{"key without window", New("j").From(src).Decode(parseStage{}).KeyBy("key").To(out), "KeyBy(key) without a Window"},
		{"stage after key", New("j").From(src).KeyBy("key").Apply(parseStage{}).To(out), "after KeyBy"},
		{"window rejects", New("j").From(src).Decode(parseStage{}).Watermark("ts", 0).KeyBy("other").Window(countStage{size: 1}).To(out), "count: keys [other]"},
		{"stage rejects", New("j").From(src).Decode(parseStage{}).Decode(parseStage{}).To(out), "parse: want raw records"},
		{"duplicate sinks", New("j").From(src).To(out).DeadLetters(out), `two sinks named "out"`},
		{"nil dead-letter sink", New("j").From(src).To(out).DeadLetters(nil), "DeadLetters(nil)"},
		{"nil sink", New("j").From(src).To(nil), "To(nil)"},
		{"nil source", New("j").From(nil).To(out), "From(nil)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.b.Build()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestChildrenInheritTheirParentsEventTime: while a split's children wait for
// their parent, a shard far ahead in event time must not move the watermark
// past the parent's, or the children's rows would all be late.
func TestChildrenInheritTheirParentsEventTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		input := map[string][]string{}
		for i := range 2000 {
			input["ahead"] = append(input["ahead"], fmt.Sprintf("%d,x", i*100)) // 0..200 s, read at once
		}
		for i := range 100 { // read slowly, 5 records per 10 ms
			input["parent"] = append(input["parent"], fmt.Sprintf("%d,p", i*10))      // 0..1 s
			input["left"] = append(input["left"], fmt.Sprintf("%d,l", 1000+i*10))     // 1..2 s
			input["right"] = append(input["right"], fmt.Sprintf("%d,r", 1000+i*10))   // 1..2 s
			input["merged"] = append(input["merged"], fmt.Sprintf("%d,m", 2000+i*10)) // 2..3 s
		}
		src := newSource(mem, input, 5)
		src.shards = []Shard{{ID: "ahead"}, {ID: "parent"}, {ID: "left", Parents: []string{"parent"}},
			{ID: "right", Parents: []string{"parent"}}, {ID: "merged", Parents: []string{"left", "right"}}}
		src.open["ahead"] = true
		src.slow = map[string]time.Duration{"parent": 10 * time.Millisecond, "left": 10 * time.Millisecond,
			"right": 10 * time.Millisecond, "merged": 10 * time.Millisecond}
		job, err := testJob(src, newMemSink("out"), newMemSink("dead"), nil, time.Hour, WithAllocator(mem))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- job.Run(context.Background()) }()
		time.Sleep(time.Minute) // fake time: every shard has been read
		synctest.Wait()
		st := job.Stats()
		if late := st.Counters["late_rows"]; late != 0 {
			t.Errorf("%d late rows", late)
		}
		if st.RecordsIn != 2400 || st.Watermark != 199900-500 {
			t.Errorf("read %d records, watermark %d; want 2400 and, all else done, the open shard's 199900 - 500", st.RecordsIn, st.Watermark)
		}
		if err := job.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// TestBoundedReadLeavesShardsOpen: a replay up to a bound ends the job, but
// its checkpoint keeps the shards open, so a later run reads on from there.
func TestBoundedReadLeavesShardsOpen(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	input := testInput(2, 300, 9)
	store := &memStore{}
	out, dead := newMemSink("out"), newMemSink("dead")

	src := newSource(mem, input, 7)
	src.bound = map[string]int{"s0": 100, "s1": 150}
	job, err := testJob(src, out, dead, store, time.Hour, WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	cp := store.saved[len(store.saved)-1]
	for id, n := range src.bound {
		if st := cp.Shards[id]; st.Finished || st.Position.N != int64(n) {
			t.Errorf("%s after the bounded run: %+v, want open at %d", id, st, n)
		}
	}
	if st := job.Stats(); !st.Finished || st.RecordsIn != 250 {
		t.Errorf("bounded run: finished %v, read %d", st.Finished, st.RecordsIn)
	}

	src.bound = nil // the same job reads on to the end
	job, err = testJob(src, out, dead, store, time.Hour, WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := job.Stats(); st.RecordsIn != 600-250 || !st.Finished {
		t.Errorf("second run read %d records (finished %v), want the 350 after the bound", st.RecordsIn, st.Finished)
	}
	if cp := store.saved[len(store.saved)-1]; !cp.Shards["s0"].Finished || !cp.Shards["s1"].Finished {
		t.Errorf("after reading to the end: %+v", cp.Shards)
	}
}
