package spacesaving

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMergeBounds splits a Zipf stream into three parts, sketches each and
// merges them: every monitored key's true weight lies in [Count-Err, Count],
// every unmonitored key weighs at most the smallest count, Total adds up,
// and the merged top 5 are the true top 5.
func TestMergeBounds(t *testing.T) {
	const capacity, n = 100, 200_000
	z := rand.NewZipf(rand.New(rand.NewPCG(5, 6)), 1.2, 1, 9999)
	rng := rand.New(rand.NewPCG(7, 8))
	parts := make([]*Sketch, 3)
	for i := range parts {
		parts[i], _ = New(capacity)
	}
	exact := map[string]int64{}
	for range n {
		key := fmt.Sprintf("k%d", z.Uint64())
		parts[rng.IntN(len(parts))].Add(key, 1)
		exact[key]++
	}
	m, _ := New(capacity)
	for _, p := range parts {
		before, _ := p.MarshalBinary()
		m.Merge(p)
		if after, _ := p.MarshalBinary(); !slices.Equal(before, after) {
			t.Fatal("Merge changed its argument")
		}
	}
	if m.Total() != n {
		t.Fatalf("Total %d, want %d", m.Total(), n)
	}
	top := m.Top(capacity)
	if len(top) != capacity {
		t.Fatalf("%d counters", len(top))
	}
	monitored := map[string]bool{}
	for _, it := range top {
		monitored[it.Key] = true
		if tr := exact[it.Key]; tr > it.Count || tr < it.Count-it.Err {
			t.Errorf("%s: true %d outside [%d, %d]", it.Key, tr, it.Count-it.Err, it.Count)
		}
	}
	floor := top[len(top)-1].Count
	type kv struct {
		k string
		v int64
	}
	var all []kv
	for k, v := range exact {
		all = append(all, kv{k, v})
		if !monitored[k] && v > floor {
			t.Errorf("%s: true %d, not monitored, over the smallest count %d", k, v, floor)
		}
	}
	slices.SortFunc(all, func(a, b kv) int { return int(b.v - a.v) })
	for i, it := range m.Top(5) {
		if it.Key != all[i].k {
			t.Errorf("rank %d: %s (%d±%d), want %s (%d)", i+1, it.Key, it.Count, it.Err, all[i].k, all[i].v)
		}
	}
}

// Merging into a sketch that is not full, and of sketches that saw every
// key, is exact.
func TestMergeExactWhenNothingWasEvicted(t *testing.T) {
	a, _ := New(10)
	b, _ := New(10)
	a.Add("x", 3)
	a.Add("y", 1)
	b.Add("y", 2)
	b.Add("z", 5)
	a.Merge(b)
	want := []Item{{"z", 5, 0}, {"x", 3, 0}, {"y", 3, 0}}
	if got := a.Top(10); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Top = %v, want %v", got, want)
	}
}

// A sketch restores exactly: the same top, and the same counter taken over
// by the next new key.
func TestBinaryRoundTrip(t *testing.T) {
	s, _ := New(8)
	z := rand.NewZipf(rand.New(rand.NewPCG(1, 1)), 1.3, 1, 200)
	for range 5000 {
		s.Add(fmt.Sprintf("k%d", z.Uint64()), 1)
	}
	data, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	r, _ := New(8)
	if err := r.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	for _, sk := range []*Sketch{s, r} {
		sk.Add("new-key", 1)
		sk.Add("k1", 4)
	}
	if fmt.Sprint(s.Top(8)) != fmt.Sprint(r.Top(8)) || s.Total() != r.Total() {
		t.Errorf("restored %v (%d), want %v (%d)", r.Top(8), r.Total(), s.Top(8), s.Total())
	}

	other, _ := New(9)
	if err := other.UnmarshalBinary(data); !errors.Is(err, ErrCorrupt) {
		t.Errorf("other capacity: %v", err)
	}
	for n := range len(data) {
		if err := r.UnmarshalBinary(data[:n]); err == nil {
			t.Fatalf("%d of %d bytes decoded", n, len(data))
		}
	}
	if fmt.Sprint(r.Top(8)) != fmt.Sprint(s.Top(8)) {
		t.Error("a failed UnmarshalBinary changed the sketch")
	}
}

func FuzzUnmarshal(f *testing.F) {
	s, _ := New(4)
	for _, k := range []string{"a", "b", "a", "c", "d", "e", "a"} {
		s.Add(k, 1)
	}
	data, _ := s.MarshalBinary()
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, _ := New(4)
		if err := r.UnmarshalBinary(data); err != nil {
			return
		}
		// A sketch that decodes keeps working.
		r.Add("zz", 2)
		r.Merge(s)
		if len(r.Top(10)) > 4 {
			t.Fatal("over capacity")
		}
	})
}
