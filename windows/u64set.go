package windows

import "math/bits"

// u64set is an open-addressing hash set of uint64 with linear probing, used
// for exact distinct counting: a window's set holds slot<<32 | value id for
// every (group, value) pair seen. It never deletes; a fired window drops its
// whole set.
type u64set struct {
	keys  []uint64 // emptyKey marks a free cell
	n     int
	shift uint8
}

// emptyKey cannot be a member: its slot half would be 2^32-1.
const emptyKey = ^uint64(0)

const minSetCap = 16

func newU64Set(hint int) *u64set {
	c := minSetCap
	for c*3/4 < hint {
		c *= 2
	}
	s := &u64set{}
	s.alloc(c)
	return s
}

func (s *u64set) alloc(c int) {
	s.keys = make([]uint64, c)
	for i := range s.keys {
		s.keys[i] = emptyKey
	}
	s.shift = uint8(64 - bits.TrailingZeros(uint(c)))
}

func (s *u64set) len() int { return s.n }

func (s *u64set) home(k uint64) uint64 { return (k * 0x9E3779B97F4A7C15) >> s.shift }

// insert adds k and reports whether it was new.
func (s *u64set) insert(k uint64) bool {
	if (s.n+1)*4 > len(s.keys)*3 {
		s.rehash(len(s.keys) * 2)
	}
	mask := uint64(len(s.keys) - 1)
	i := s.home(k)
	for {
		switch s.keys[i] {
		case k:
			return false
		case emptyKey:
			s.keys[i] = k
			s.n++
			return true
		}
		i = (i + 1) & mask
	}
}

func (s *u64set) rehash(c int) {
	old := s.keys
	s.alloc(c)
	mask := uint64(c - 1)
	for _, k := range old {
		if k == emptyKey {
			continue
		}
		i := s.home(k)
		for s.keys[i] != emptyKey {
			i = (i + 1) & mask
		}
		s.keys[i] = k
	}
}

// each calls f with every member.
func (s *u64set) each(f func(uint64)) {
	for _, k := range s.keys {
		if k != emptyKey {
			f(k)
		}
	}
}

// reset removes every member, keeping the capacity.
func (s *u64set) reset() {
	if s.n == 0 {
		return
	}
	for i := range s.keys {
		s.keys[i] = emptyKey
	}
	s.n = 0
}
