package union_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.uber.org/goleak"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/file"
	"github.com/shardflow/shardflow/sources/generator"
	"github.com/shardflow/shardflow/sources/sourcetest"
	"github.com/shardflow/shardflow/sources/union"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// genWant is what every shard of a generator of cfg delivers, by the
// generator's Reference, under member's prefix.
func genWant(t *testing.T, member string, cfg generator.Config, want map[string][]sourcetest.Record) {
	t.Helper()
	ref, err := generator.NewReference(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for s := range ref.Config().Shards {
		want[union.ShardID(member, generator.ShardID(s))] = nil
	}
	for ev := range ref.All() {
		id := union.ShardID(member, ev.Shard)
		want[id] = append(want[id], sourcetest.Record{Data: ev.Data, PartitionKey: ev.PartitionKey, Pos: ev.Pos})
	}
}

func mustGen(t *testing.T, cfg generator.Config) *generator.Source {
	t.Helper()
	src, err := generator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func mustUnion(t *testing.T, members ...union.Member) *union.Source {
	t.Helper()
	u, err := union.New(members...)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// The union of two generators of different seeds and shard counts and a
// file source (whose shard ids are paths, with slashes of their own) passes
// the conformance suite under its prefixed shard ids: generator shards end
// with ErrShardEnd, file shards with ErrBoundReached.
func TestConformance(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"x.jsonl": "{\"x\":1}\n{\"x\":2}\n{\"x\":3}\n",
		"y.jsonl": "",
		"z.jsonl": strings.Repeat("{\"z\":\"zzzzzzzzzz\"}\n", 700),
	}
	fileWant := map[string][]sourcetest.Record{}
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		id := union.ShardID("files", path)
		fileWant[id] = []sourcetest.Record{}
		off := 0
		for line := range strings.SplitSeq(strings.TrimSuffix(content, "\n"), "\n") {
			if content == "" {
				break
			}
			off += len(line) + 1
			fileWant[id] = append(fileWant[id], sourcetest.Record{Data: []byte(line), Pos: pipeline.OffsetPosition(int64(off))})
		}
	}
	sourcetest.Run(t, func(t *testing.T, mem memory.Allocator) sourcetest.Fixture {
		a := generator.Config{Shards: 2, Events: 900, Seed: 1, BatchSize: 64, Mem: mem}
		b := generator.Config{Shards: 3, Events: 1_000, Seed: 2, BatchSize: 100, BadEvery: 50, Mem: mem}
		f, err := file.New(file.Config{Glob: filepath.Join(dir, "*.jsonl"), BatchSize: 50, Mem: mem})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][]sourcetest.Record{}
		genWant(t, "a", a, want)
		genWant(t, "b", b, want)
		for id, recs := range fileWant {
			want[id] = recs
		}
		u := mustUnion(t, union.Member{Name: "a", Source: mustGen(t, a)}, union.Member{Name: "b", Source: mustGen(t, b)},
			union.Member{Name: "files", Source: f})
		return sourcetest.Fixture{Source: u, Want: want}
	})
}

func TestNewRefusesBadMembers(t *testing.T) {
	g := mustGen(t, generator.Config{Events: 10})
	tests := []struct {
		name    string
		members []union.Member
		want    string
	}{
		{"none", nil, "no members"},
		{"empty name", []union.Member{{Name: "", Source: g}}, "empty name"},
		{"slash", []union.Member{{Name: "a/b", Source: g}}, `"a/b" contains "/"`},
		{"space", []union.Member{{Name: "a b", Source: g}}, "white space"},
		{"no source", []union.Member{{Name: "a"}}, `member "a" has no source`},
		{"duplicate", []union.Member{{Name: "a", Source: g}, {Name: "a", Source: g}}, `two members named "a"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := union.New(tc.members...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, %v; want an error containing %q", u, err, tc.want)
			}
		})
	}
}

// fakeSource is a member whose shards have lineage and whose readers report
// idleness, with trouble to report; its readers deliver nothing.
type fakeSource struct {
	name    string
	shards  []pipeline.Shard
	bounded bool
	trouble map[string]string
	idle    bool
	opened  []pipeline.Shard
	after   []pipeline.Position
	listErr error
}

func (s *fakeSource) Name() string  { return s.name }
func (s *fakeSource) Bounded() bool { return s.bounded }
func (s *fakeSource) Shards(context.Context) ([]pipeline.Shard, error) {
	return s.shards, s.listErr
}
func (s *fakeSource) Trouble() map[string]string { return s.trouble }
func (s *fakeSource) OpenShard(_ context.Context, sh pipeline.Shard, after pipeline.Position) (pipeline.ShardReader, error) {
	if !slices.ContainsFunc(s.shards, func(x pipeline.Shard) bool { return x.ID == sh.ID }) {
		return nil, fmt.Errorf("fake: unknown shard %q", sh.ID)
	}
	s.opened, s.after = append(s.opened, sh), append(s.after, after)
	return &fakeReader{idle: s.idle}, nil
}

type fakeReader struct{ idle bool }

func (r *fakeReader) Read(context.Context) (*pipeline.Batch, error) { return nil, pipeline.ErrShardEnd }
func (r *fakeReader) Close() error                                  { return nil }
func (r *fakeReader) Idle() bool                                    { return r.idle }

// Lineage stays within a member: parents are prefixed in Shards and
// stripped in OpenShard, and positions reach the member unchanged.
func TestLineageAndPositionsPassThrough(t *testing.T) {
	k1 := &fakeSource{name: "kinesis", shards: []pipeline.Shard{
		{ID: "shardId-0"}, {ID: "shardId-1", Parents: []string{"shardId-0"}}, {ID: "shardId-2", Parents: []string{"shardId-0", "shardId-1"}},
	}}
	k2 := &fakeSource{name: "kinesis", shards: []pipeline.Shard{{ID: "shardId-0"}, {ID: "shardId-3", Parents: []string{"shardId-0"}}}}
	u := mustUnion(t, union.Member{Name: "clicks", Source: k1}, union.Member{Name: "orders", Source: k2})
	shards, err := u.Shards(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(shards)
	want := "[{clicks/shardId-0 []} {clicks/shardId-1 [clicks/shardId-0]} {clicks/shardId-2 [clicks/shardId-0 clicks/shardId-1]} " +
		"{orders/shardId-0 []} {orders/shardId-3 [orders/shardId-0]}]"
	if got != want {
		t.Fatalf("Shards = %s\nwant %s", got, want)
	}
	pos := pipeline.Position{Seq: "49590338271490256608559692538361571095921575989136588898", N: 3}
	r, err := u.OpenShard(t.Context(), shards[2], pos)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if fmt.Sprint(k1.opened) != "[{shardId-2 [shardId-0 shardId-1]}]" || k1.after[0] != pos || len(k2.opened) != 0 {
		t.Errorf("member clicks opened %v after %v, orders %v; want shardId-2 with its parents, after %v", k1.opened, k1.after, k2.opened, pos)
	}
	if _, err := u.OpenShard(t.Context(), pipeline.Shard{ID: "refunds/shardId-0"}, pipeline.Position{}); !errors.Is(err, union.ErrUnknownShard) ||
		!strings.Contains(err.Error(), "clicks, orders") {
		t.Errorf("OpenShard of a shard of no member: %v, want ErrUnknownShard naming the members", err)
	}
	if _, err := u.OpenShard(t.Context(), pipeline.Shard{ID: "shardId-0"}, pipeline.Position{}); !errors.Is(err, union.ErrUnknownShard) {
		t.Errorf("OpenShard of an unprefixed shard: %v, want ErrUnknownShard", err)
	}
	if _, err := u.OpenShard(t.Context(), pipeline.Shard{ID: "orders/shardId-9"}, pipeline.Position{}); err == nil || !strings.Contains(err.Error(), `member "orders": fake: unknown shard "shardId-9"`) {
		t.Errorf("OpenShard of an unknown shard of a member: %v, want the member's error", err)
	}
	k2.listErr = errors.New("throttled")
	if _, err := u.Shards(t.Context()); err == nil || err.Error() != `union: member "orders": throttled` {
		t.Errorf("Shards with a failing member: %v", err)
	}
}

// Idleness, trouble and boundedness come from the members.
func TestOptionalInterfacesAreForwarded(t *testing.T) {
	idle := &fakeSource{name: "kinesis", shards: []pipeline.Shard{{ID: "s"}}, idle: true, bounded: true,
		trouble: map[string]string{"s": "connection refused"}}
	busy := &fakeSource{name: "kinesis", shards: []pipeline.Shard{{ID: "s"}}, bounded: true}
	plain := mustGen(t, generator.Config{Shards: 1, Events: 10})
	u := mustUnion(t, union.Member{Name: "i", Source: idle}, union.Member{Name: "b", Source: busy}, union.Member{Name: "g", Source: plain})
	for id, want := range map[string]bool{"i/s": true, "b/s": false} {
		r, err := u.OpenShard(t.Context(), pipeline.Shard{ID: id}, pipeline.Position{})
		if err != nil {
			t.Fatal(err)
		}
		if ir, ok := r.(pipeline.IdleReporter); !ok || ir.Idle() != want {
			t.Errorf("shard %s: reader is an IdleReporter %v, idle %v; want idle %v", id, ok, ok && ir.Idle(), want)
		}
		if _, err := r.Read(t.Context()); !errors.Is(err, pipeline.ErrShardEnd) {
			t.Errorf("shard %s: Read = %v, want the member's ErrShardEnd", id, err)
		}
		r.Close()
	}
	r, err := u.OpenShard(t.Context(), pipeline.Shard{ID: union.ShardID("g", generator.ShardID(0))}, pipeline.Position{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.(pipeline.IdleReporter); ok {
		t.Error("a generator shard's reader is an IdleReporter: the union claims what its member does not know")
	}
	r.Close()
	if got := fmt.Sprint(u.Trouble()); got != "map[i/s:connection refused]" {
		t.Errorf("Trouble = %s, want the member's under its prefixed shard id", got)
	}
	if !u.Bounded() {
		t.Error("a union of bounded members is not bounded")
	}
	unbounded := mustUnion(t, union.Member{Name: "i", Source: idle}, union.Member{Name: "g", Source: mustGen(t, generator.Config{Shards: 1})})
	if unbounded.Bounded() {
		t.Error("a union with an unbounded member is bounded")
	}
	if got := mustUnion(t, union.Member{Name: "b", Source: busy}).Trouble(); got != nil {
		t.Errorf("Trouble without any = %v, want nil", got)
	}
}
