package spacesaving

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// Capacity is the number of counters the sketch keeps at most.
func (s *Sketch) Capacity() int { return s.cap }

// floor bounds the weight of every key the sketch does not monitor: its
// smallest count when it is full, else 0 (it has seen every key).
func (s *Sketch) floor() int64 {
	if len(s.h) < s.cap {
		return 0
	}
	return s.h[0].Count
}

// Merge folds o, a sketch of another part of the stream, into s, so that s
// summarizes both parts (the parallel Space-Saving merge of Cafaro, Pulimeno
// and Tempesta, Information Sciences 2016): a key's count is the sum of its
// counts in both, a sketch that does not monitor the key contributing its
// floor (its smallest count if full, else 0) to both count and error; the
// capacity heaviest results stay, ties broken by key. Every monitored key
// still has Count-Err <= true weight <= Count, and a key that is not
// monitored weighs at most the smallest count. o is not changed.
func (s *Sketch) Merge(o *Sketch) {
	if o == nil || o.total == 0 {
		return
	}
	fs, fo := s.floor(), o.floor()
	items := make([]Item, 0, len(s.h)+len(o.h))
	for _, c := range s.h {
		it := c.Item
		if oc, ok := o.index[it.Key]; ok {
			it.Count, it.Err = it.Count+oc.Count, it.Err+oc.Err
		} else {
			it.Count, it.Err = it.Count+fo, it.Err+fo
		}
		items = append(items, it)
	}
	for _, c := range o.h {
		if _, ok := s.index[c.Key]; ok {
			continue
		}
		items = append(items, Item{Key: c.Key, Count: c.Count + fs, Err: c.Err + fs})
	}
	sortItems(items)
	if len(items) > s.cap {
		items = items[:s.cap]
	}
	s.total += o.total
	s.h = s.h[:0]
	clear(s.index)
	// Heaviest first is not a min-heap; lay the items out lightest first,
	// which is one, so the heap is the same whatever the map order was.
	for i := len(items) - 1; i >= 0; i-- {
		c := &counter{Item: items[i], at: len(s.h)}
		s.h = append(s.h, c)
		s.index[c.Key] = c
	}
}

func sortItems(items []Item) {
	sort.Slice(items, func(i, j int) bool {
		if items[i].Count != items[j].Count {
			return items[i].Count > items[j].Count
		}
		return items[i].Key < items[j].Key
	})
}

const encodingVersion = 1

// AppendBinary appends the sketch's encoding to b: a version byte, the
// capacity, the total weight and the counters in heap order (key, count,
// error), so that UnmarshalBinary restores the sketch exactly, including
// which counter the next new key takes over.
func (s *Sketch) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, encodingVersion)
	b = binary.AppendUvarint(b, uint64(s.cap))
	b = binary.AppendUvarint(b, uint64(s.total))
	b = binary.AppendUvarint(b, uint64(len(s.h)))
	for _, c := range s.h {
		b = binary.AppendUvarint(b, uint64(len(c.Key)))
		b = append(b, c.Key...)
		b = binary.AppendUvarint(b, uint64(c.Count))
		b = binary.AppendUvarint(b, uint64(c.Err))
	}
	return b, nil
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (s *Sketch) MarshalBinary() ([]byte, error) { return s.AppendBinary(nil) }

// ErrCorrupt is returned by UnmarshalBinary for input it cannot decode.
var ErrCorrupt = errors.New("spacesaving: corrupt sketch")

// UnmarshalBinary implements encoding.BinaryUnmarshaler: it replaces the
// sketch with the encoded one, which must have the same capacity. On error
// the sketch is left as it was.
func (s *Sketch) UnmarshalBinary(data []byte) error {
	if len(data) == 0 || data[0] != encodingVersion {
		return fmt.Errorf("%w: bad version", ErrCorrupt)
	}
	data = data[1:]
	next := func() uint64 {
		v, n := binary.Uvarint(data)
		if n <= 0 {
			data = nil
			return 1<<64 - 1
		}
		data = data[n:]
		return v
	}
	capacity, total, n := next(), next(), next()
	if capacity != uint64(s.cap) {
		return fmt.Errorf("%w: capacity %d, want %d", ErrCorrupt, capacity, s.cap)
	}
	if total > 1<<62 || n > capacity || n > uint64(len(data)/3) {
		return fmt.Errorf("%w: header", ErrCorrupt)
	}
	h := make(counters, 0, n)
	index := make(map[string]*counter, s.cap)
	var sum uint64
	for i := range int(n) {
		kl := next()
		if kl > uint64(len(data)) {
			return fmt.Errorf("%w: key %d", ErrCorrupt, i)
		}
		key := string(data[:kl])
		data = data[kl:]
		count, errw := next(), next()
		if count > total || errw >= count {
			return fmt.Errorf("%w: counter %d", ErrCorrupt, i)
		}
		if _, dup := index[key]; dup {
			return fmt.Errorf("%w: duplicate key", ErrCorrupt)
		}
		if i > 0 && h[(i-1)/2].Count > int64(count) {
			return fmt.Errorf("%w: not a heap", ErrCorrupt)
		}
		c := &counter{Item: Item{Key: key, Count: int64(count), Err: int64(errw)}, at: i}
		h = append(h, c)
		index[key] = c
		sum += count - errw
	}
	if len(data) != 0 || sum > total {
		return fmt.Errorf("%w: trailing bytes or counts over the total", ErrCorrupt)
	}
	s.total, s.h, s.index = int64(total), h, index
	return nil
}
