package arrowpool

import (
	"errors"
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

const (
	// alignment is what Arrow asks of every buffer's first byte.
	alignment = 64
	// minShift is the log2 of the smallest class: one cache line.
	minShift = 6

	// DefaultMaxClass is the largest buffer a Pool recycles by default.
	DefaultMaxClass = 16 << 20
	// DefaultMaxRetained bounds the bytes a Pool keeps free by default.
	DefaultMaxRetained = 64 << 20
)

// Config tunes a Pool. The zero Config takes the defaults.
type Config struct {
	// MaxClass is the largest buffer recycled, a power of two of at least
	// 64 bytes (default DefaultMaxClass). Larger allocations go to the
	// garbage collector, as memory.GoAllocator's do.
	MaxClass int
	// MaxRetained bounds the bytes kept in the free lists (default
	// DefaultMaxRetained); a buffer freed beyond it is dropped.
	MaxRetained int64
}

func (c *Config) setDefaults() {
	if c.MaxClass == 0 {
		c.MaxClass = DefaultMaxClass
	}
	if c.MaxRetained == 0 {
		c.MaxRetained = DefaultMaxRetained
	}
}

// Validate reports what is wrong with c once the defaults are applied.
func (c Config) Validate() error {
	c.setDefaults()
	switch {
	case c.MaxClass < 1<<minShift || c.MaxClass&(c.MaxClass-1) != 0:
		return fmt.Errorf("arrowpool: max class %d: want a power of two >= %d", c.MaxClass, 1<<minShift)
	case c.MaxRetained < 0:
		return errors.New("arrowpool: max retained bytes < 0")
	}
	return nil
}

// Pool is a memory.Allocator with a free list per power-of-two size class.
// It is safe for concurrent use.
type Pool struct {
	classes     []class // classes[i] holds buffers of 1<<(i+minShift) bytes
	maxRetained int64

	retained atomic.Int64
	hits     atomic.Int64
	misses   atomic.Int64
	drops    atomic.Int64
}

// class is one size class's free list. The padding keeps two classes'
// mutexes off one cache line.
type class struct {
	mu   sync.Mutex
	free [][]byte // each of the class's full size, 64-byte aligned
	_    [alignment - unsafe.Sizeof(sync.Mutex{}) - unsafe.Sizeof([][]byte(nil))]byte
}

var _ memory.Allocator = (*Pool)(nil)

// New returns an empty Pool.
func New(cfg Config) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	n := bits.Len(uint(cfg.MaxClass)) - minShift
	return &Pool{classes: make([]class, n), maxRetained: cfg.MaxRetained}, nil
}

// Stats counts what a Pool did.
type Stats struct {
	// Hits and Misses count the allocations served from a free list and
	// from the garbage-collected heap.
	Hits, Misses int64
	// Drops counts the freed buffers not kept: over the bound, larger than
	// the largest class, or not of a class's shape.
	Drops int64
	// Retained is the bytes now kept free.
	Retained int64
}

// Stats returns the pool's counters.
func (p *Pool) Stats() Stats {
	return Stats{Hits: p.hits.Load(), Misses: p.misses.Load(), Drops: p.drops.Load(), Retained: p.retained.Load()}
}

// Trim drops every free buffer, leaving them to the garbage collector.
func (p *Pool) Trim() {
	for i := range p.classes {
		c := &p.classes[i]
		c.mu.Lock()
		n := 0
		for j, b := range c.free {
			n += cap(b)
			c.free[j] = nil
		}
		c.free = c.free[:0]
		c.mu.Unlock()
		p.retained.Add(-int64(n))
	}
}

// Allocate returns size zeroed bytes, 64-byte aligned. Its capacity is the
// whole class, so Reallocate can grow it in place.
func (p *Pool) Allocate(size int) []byte {
	b := p.get(size)
	clear(b)
	return b
}

// get is Allocate without the clearing: the bytes may be a previous
// owner's.
func (p *Pool) get(size int) []byte {
	if size == 0 {
		return []byte{}
	}
	ci := classOf(size)
	if ci >= len(p.classes) {
		p.misses.Add(1)
		return alignedMake(size)[:size] // fresh from make: already zero
	}
	c := &p.classes[ci]
	c.mu.Lock()
	if n := len(c.free); n > 0 {
		b := c.free[n-1]
		c.free[n-1] = nil
		c.free = c.free[:n-1]
		c.mu.Unlock()
		p.retained.Add(-int64(cap(b)))
		p.hits.Add(1)
		return b[:size]
	}
	c.mu.Unlock()
	p.misses.Add(1)
	return alignedMake(1 << (ci + minShift))[:size]
}

// Reallocate resizes b to size bytes, keeping its contents up to the
// smaller of the two lengths; bytes past len(b) are zero. b stays in place
// while size fits its class and uses more than a quarter of it; otherwise
// it moves to the class of size and b returns to its own.
func (p *Pool) Reallocate(size int, b []byte) []byte {
	if ci, ok := p.classOfBuf(b); ok && size <= cap(b) && (size > cap(b)/4 || ci == 0) && size > 0 {
		if size > len(b) {
			clear(b[len(b):size])
		}
		return b[:size]
	}
	nb := p.get(size)
	n := copy(nb, b)
	clear(nb[n:])
	p.Free(b)
	return nb
}

// Free returns b to its class. b must be a slice Allocate or Reallocate
// returned, with nothing else referring to its bytes; a slice of any other
// shape is left to the garbage collector.
func (p *Pool) Free(b []byte) {
	if cap(b) == 0 {
		return
	}
	ci, ok := p.classOfBuf(b)
	if !ok {
		p.drops.Add(1)
		return
	}
	sz := int64(cap(b))
	if p.retained.Add(sz) > p.maxRetained {
		p.retained.Add(-sz)
		p.drops.Add(1)
		return
	}
	c := &p.classes[ci]
	c.mu.Lock()
	c.free = append(c.free, b[:cap(b)])
	c.mu.Unlock()
}

// classOfBuf reports b's class if b has the shape of one: a capacity of
// exactly a class's size and a 64-byte aligned start.
func (p *Pool) classOfBuf(b []byte) (int, bool) {
	c := cap(b)
	if c < 1<<minShift || c&(c-1) != 0 || uintptr(unsafe.Pointer(unsafe.SliceData(b)))%alignment != 0 {
		return 0, false
	}
	ci := bits.Len(uint(c)) - 1 - minShift
	return ci, ci < len(p.classes)
}

// classOf returns the index of the smallest class that holds size bytes.
func classOf(size int) int {
	if size <= 1<<minShift {
		return 0
	}
	return bits.Len(uint(size-1)) - minShift
}

// alignedMake returns n zeroed bytes starting on a 64-byte boundary, with a
// capacity of exactly n. Go's allocator places power-of-two objects of 64
// bytes and more on such a boundary already; the padded fallback keeps the
// promise if it ever stops doing so.
func alignedMake(n int) []byte {
	b := make([]byte, n)
	if uintptr(unsafe.Pointer(unsafe.SliceData(b)))%alignment == 0 {
		return b
	}
	b = make([]byte, n+alignment)
	shift := int(-uintptr(unsafe.Pointer(unsafe.SliceData(b))) % alignment)
	return b[shift : shift+n : shift+n]
}
