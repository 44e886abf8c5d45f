package spacesaving

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
)

// TestZipfBounds feeds a skewed stream (Zipf, s=1.2, 10,000 keys) and checks
// the guarantees against exact counts: every monitored key's true count lies
// in [Count-Err, Count], Err <= Total/capacity, every key heavier than
// Total/capacity is monitored, and the reported top 5 are the true top 5.
func TestZipfBounds(t *testing.T) {
	for _, weighted := range []bool{false, true} {
		t.Run(fmt.Sprintf("weighted=%v", weighted), func(t *testing.T) {
			const capacity, n = 100, 200_000
			rng := rand.New(rand.NewPCG(1, 2))
			z := rand.NewZipf(rand.New(rand.NewPCG(3, 4)), 1.2, 1, 9999)
			s, err := New(capacity)
			if err != nil {
				t.Fatal(err)
			}
			exact := map[string]int64{}
			var total int64
			for range n {
				key := fmt.Sprintf("user-%d", z.Uint64())
				w := int64(1)
				if weighted {
					w = 1 + rng.Int64N(100)
				}
				s.Add(key, w)
				exact[key] += w
				total += w
			}
			if s.Total() != total {
				t.Fatalf("Total %d, want %d", s.Total(), total)
			}
			bound := total / capacity
			monitored := map[string]bool{}
			for _, it := range s.Top(capacity) {
				monitored[it.Key] = true
				if tr := exact[it.Key]; tr > it.Count || tr < it.Count-it.Err {
					t.Errorf("%s: true %d outside [%d, %d]", it.Key, tr, it.Count-it.Err, it.Count)
				}
				if it.Err > bound {
					t.Errorf("%s: error %d over Total/capacity %d", it.Key, it.Err, bound)
				}
			}
			type kv struct {
				k string
				v int64
			}
			var all []kv
			for k, v := range exact {
				all = append(all, kv{k, v})
				if v > bound && !monitored[k] {
					t.Errorf("%s (true %d > %d) is not monitored", k, v, bound)
				}
			}
			sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v })
			top := s.Top(5)
			for i, it := range top {
				if it.Key != all[i].k {
					t.Errorf("rank %d: got %s (%d±%d), want %s (%d)", i+1, it.Key, it.Count, it.Err, all[i].k, all[i].v)
				}
			}
			t.Logf("top 1: %s %d (err %d), true %d of %d", top[0].Key, top[0].Count, top[0].Err, all[0].v, total)
		})
	}
}

func TestSmall(t *testing.T) {
	if _, err := New(0); err == nil {
		t.Error("New(0) should fail")
	}
	s, _ := New(2)
	s.Add("a", 3)
	s.Add("b", 1)
	s.Add("c", 1) // takes b's counter: count 2, err 1
	s.Add("x", 0) // ignored
	got := s.Top(5)
	want := []Item{{"a", 3, 0}, {"c", 2, 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Top = %v, want %v", got, want)
	}
	s.Reset()
	if s.Total() != 0 || len(s.Top(5)) != 0 {
		t.Error("Reset left counts")
	}
	s.Add("d", 1)
	if got := s.Top(1); len(got) != 1 || got[0].Key != "d" {
		t.Errorf("after Reset: %v", got)
	}
}
