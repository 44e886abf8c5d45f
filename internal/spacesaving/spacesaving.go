package spacesaving

import (
	"container/heap"
	"errors"
	"sort"
	"strings"
)

// Item is one monitored key: its true weight lies in [Count-Err, Count].
type Item struct {
	Key   string
	Count int64
	Err   int64
}

// Sketch is a Space-Saving summary. It is not safe for concurrent use.
type Sketch struct {
	cap   int
	total int64
	h     counters
	index map[string]*counter
}

type counter struct {
	Item
	at int // position in the heap
}

// New returns a sketch of capacity counters (at least 1).
func New(capacity int) (*Sketch, error) {
	if capacity < 1 {
		return nil, errors.New("spacesaving: capacity must be at least 1")
	}
	return &Sketch{cap: capacity, index: make(map[string]*counter, capacity)}, nil
}

// Add counts weight (> 0) for key; a weight <= 0 is ignored. The sketch keeps
// a copy of key, so key may alias memory that the caller reuses.
func (s *Sketch) Add(key string, weight int64) {
	if weight <= 0 {
		return
	}
	s.total += weight
	if c, ok := s.index[key]; ok {
		c.Count += weight
		heap.Fix(&s.h, c.at)
		return
	}
	key = strings.Clone(key)
	if len(s.h) < s.cap {
		c := &counter{Item: Item{Key: key, Count: weight}}
		s.index[key] = c
		heap.Push(&s.h, c)
		return
	}
	c := s.h[0] // the smallest counter
	delete(s.index, c.Key)
	c.Key, c.Err, c.Count = key, c.Count, c.Count+weight
	s.index[key] = c
	heap.Fix(&s.h, 0)
}

// Total is the weight added since New or Reset.
func (s *Sketch) Total() int64 { return s.total }

// Top returns up to n monitored keys, heaviest first (ties by key).
func (s *Sketch) Top(n int) []Item {
	items := make([]Item, len(s.h))
	for i, c := range s.h {
		items[i] = c.Item
	}
	sort.Slice(items, func(i, j int) bool {
		if items[i].Count != items[j].Count {
			return items[i].Count > items[j].Count
		}
		return items[i].Key < items[j].Key
	})
	if n < len(items) {
		items = items[:n]
	}
	return items
}

// Reset forgets every key.
func (s *Sketch) Reset() {
	s.total = 0
	s.h = s.h[:0]
	clear(s.index)
}

// counters is a min-heap of counters by Count.
type counters []*counter

func (h counters) Len() int           { return len(h) }
func (h counters) Less(i, j int) bool { return h[i].Count < h[j].Count }
func (h counters) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].at, h[j].at = i, j
}
func (h *counters) Push(x any) {
	c := x.(*counter)
	c.at = len(*h)
	*h = append(*h, c)
}
func (h *counters) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}
