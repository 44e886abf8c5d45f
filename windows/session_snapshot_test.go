package windows

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/shardflow/shardflow/pipeline"
)

// sessionState feeds two shards' rows, user u on both, and a watermark that
// leaves sessions open.
func sessionState(t testing.TB, mem memory.Allocator, shards ...string) *SessionOperator {
	t.Helper()
	op := newSessionOp(t, mem, 100*time.Millisecond, sessionAggs(), pipeline.OperatorEnv{})
	rows := map[string][]row{
		"a": {ev("u", 0, "view", "/a", 1), ev("v", 10, "buy", "/v", 4), ev("u", 300, "buy", "/a3", 2)},
		"b": {ev("u", 50, "buy", "/b", 3), ev("w", 20, "view", "/w", 5), ev("u", 1000, "view", "/b2", 1)},
	}
	var steps []step
	for _, sh := range shards {
		steps = append(steps, step{shard: sh, rows: rows[sh]})
	}
	runSession(t, mem, op, append(steps, wmStep(60)))
	return op
}

func finalRows(t *testing.T, mem memory.Allocator, op *SessionOperator) string {
	t.Helper()
	return fmt.Sprint(runSession(t, mem, op, []step{wmStep(pipeline.MaxTime)}))
}

// A snapshot restores into an operator that goes on as the original does; a
// shard's part restores alone, as the state of that shard's rows alone.
func TestSessionSnapshotRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	orig := sessionState(t, mem, "a", "b")
	state, err := orig.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	common, parts, err := orig.SnapshotShards()
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 {
		t.Fatalf("%d shard parts, want 2", len(parts))
	}
	want := finalRows(t, mem, orig)
	if want != "[[u|0|50|2|1|3|/a|3|true v|10|10|1|1|4|/v|4|true w|20|20|1|0|0|/w|5|false u|300|300|1|1|2|/a3|2|true u|1000|1000|1|0|0|/b2|1|false]]" {
		t.Fatalf("unexpected output %s", want)
	}

	whole := newSessionOp(t, mem, 100*time.Millisecond, sessionAggs(), pipeline.OperatorEnv{})
	if err := whole.Restore(state); err != nil {
		t.Fatal(err)
	}
	again, _ := whole.Snapshot()
	if string(again) != string(state) {
		t.Error("a restored snapshot snapshots differently")
	}
	if got := finalRows(t, mem, whole); got != want {
		t.Errorf("after Restore: %s, want %s", got, want)
	}
	if c := whole.Counters(); c["rows_in"] != 6 {
		t.Errorf("restored counters %v", c)
	}

	both := newSessionOp(t, mem, 100*time.Millisecond, sessionAggs(), pipeline.OperatorEnv{})
	if err := both.RestoreShards([][]byte{common}, map[string][][]byte{"a": {parts["a"]}, "b": {parts["b"]}}); err != nil {
		t.Fatal(err)
	}
	if got := finalRows(t, mem, both); got != want {
		t.Errorf("after RestoreShards: %s, want %s", got, want)
	}

	for _, sh := range []string{"a", "b"} {
		alone := newSessionOp(t, mem, 100*time.Millisecond, sessionAggs(), pipeline.OperatorEnv{})
		if err := alone.RestoreShards(nil, map[string][][]byte{sh: {parts[sh]}}); err != nil {
			t.Fatal(err)
		}
		ref := sessionState(t, mem, sh)
		if got, want := finalRows(t, mem, alone), finalRows(t, mem, ref); got != want {
			t.Errorf("shard %s alone: %s, want %s", sh, got, want)
		}
	}
}

// Restore refuses damaged or foreign state and leaves the operator as it was.
func TestSessionRestoreErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	state, _ := sessionState(t, mem, "a", "b").Snapshot()
	flipped := []byte(string(state))
	flipped[len(flipped)/2] ^= 1
	other := newSessionOp(t, mem, time.Second, sessionAggs(), pipeline.OperatorEnv{})
	otherState, _ := other.Snapshot()
	windowState, _ := newTestOp(t, mem, Tumbling(time.Minute).Aggregate(Count("n")), []string{"user_id"}).Snapshot()
	_, aParts, _ := sessionState(t, mem, "a").SnapshotShards()
	for _, tc := range []struct {
		name  string
		state []byte
		want  string
	}{
		{"empty", nil, "bad header"},
		{"flipped", flipped, "checksum mismatch"},
		{"truncated", state[:len(state)-5], "checksum mismatch"},
		{"other stage", otherState, "cannot restore stage"},
		{"a window's", windowState, "bad header"},
	} {
		op := sessionState(t, mem, "a")
		err := op.Restore(tc.state)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if tc.name != "other stage" && !errors.Is(err, ErrCorruptSnapshot) {
			t.Errorf("%s: %v is not ErrCorruptSnapshot", tc.name, err)
		}
		if got, want := finalRows(t, mem, op), finalRows(t, mem, sessionState(t, mem, "a")); got != want {
			t.Errorf("%s: the failed Restore changed the state: %s, want %s", tc.name, got, want)
		}
	}
	op := sessionState(t, mem, "b")
	if err := op.RestoreShards(nil, map[string][][]byte{"b": {aParts["a"]}}); err == nil || !strings.Contains(err.Error(), "holds other shards") {
		t.Errorf("a part under another shard's name: %v", err)
	}
	if got, want := finalRows(t, mem, op), finalRows(t, mem, sessionState(t, mem, "b")); got != want {
		t.Errorf("the failed RestoreShards changed the state: %s, want %s", got, want)
	}
}

func FuzzSessionRestore(f *testing.F) {
	mem := memory.NewGoAllocator()
	state, _ := sessionState(f, mem, "a", "b").Snapshot()
	f.Add(state)
	f.Fuzz(func(t *testing.T, b []byte) {
		op := newSessionOp(t, mem, 100*time.Millisecond, sessionAggs(), pipeline.OperatorEnv{})
		if len(b) > 8 { // reach the decoder past the checksum
			b = binaryAppendCRC(b[:len(b)-4])
		}
		if err := op.Restore(b); err != nil {
			return
		}
		runSession(t, mem, op, []step{{shard: "a", rows: []row{ev("u", 5, "view", "/x", 1)}}, wmStep(pipeline.MaxTime)})
	})
}
