package arrowpool

import (
	"bytes"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"unsafe"
)

func newPool(t *testing.T, cfg Config) *Pool {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func addr(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

func fill(b []byte, c byte) {
	for i := range b {
		b[i] = c
	}
}

func allAre(b []byte, c byte) bool {
	for _, x := range b {
		if x != c {
			return false
		}
	}
	return true
}

func checkZero(t *testing.T, what string, b []byte) {
	t.Helper()
	for i, c := range b {
		if c != 0 {
			t.Fatalf("%s: byte %d of %d is %#x, want zero", what, i, len(b), c)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg Config
		ok  bool
	}{
		{Config{}, true},
		{Config{MaxClass: 64, MaxRetained: 1}, true},
		{Config{MaxClass: 32}, false},
		{Config{MaxClass: 1000}, false},
		{Config{MaxRetained: -1}, false},
	} {
		if err := tc.cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: Validate() = %v, want ok %v", tc.cfg, err, tc.ok)
		}
		if _, err := New(tc.cfg); (err == nil) != tc.ok {
			t.Errorf("%+v: New() error %v, want ok %v", tc.cfg, err, tc.ok)
		}
	}
}

func TestAllocateShape(t *testing.T) {
	p := newPool(t, Config{MaxClass: 1 << 16})
	for _, size := range []int{1, 63, 64, 65, 100, 128, 1000, 4096, 5000, 1 << 16, 1<<16 + 1, 1 << 20} {
		b := p.Allocate(size)
		if len(b) != size {
			t.Errorf("Allocate(%d): len %d", size, len(b))
		}
		if addr(b)%alignment != 0 {
			t.Errorf("Allocate(%d): address %#x not 64-byte aligned", size, addr(b))
		}
		checkZero(t, fmt.Sprintf("Allocate(%d)", size), b)
		p.Free(b)
	}
	if b := p.Allocate(0); b == nil || len(b) != 0 {
		t.Errorf("Allocate(0) = %v (nil %v), want an empty non-nil slice", b, b == nil)
	}
}

func TestReuseIsZeroed(t *testing.T) {
	p := newPool(t, Config{})
	b := p.Allocate(1000) // class 1024
	fill(b[:cap(b)], 0xAA)
	p.Free(b)
	if st := p.Stats(); st.Retained != 1024 {
		t.Fatalf("retained %d after one free, want 1024", st.Retained)
	}
	c := p.Allocate(900) // same class
	if addr(c) != addr(b) {
		t.Fatalf("Allocate after Free did not reuse the freed buffer")
	}
	checkZero(t, "reused buffer", c)
	if st := p.Stats(); st.Hits != 1 || st.Misses != 1 || st.Retained != 0 {
		t.Fatalf("stats %+v, want 1 hit, 1 miss, 0 retained", st)
	}
	// Growing the reused buffer in place must not show the old owner's
	// bytes either.
	c = p.Reallocate(1024, c)
	if addr(c) != addr(b) {
		t.Fatalf("Reallocate within the class moved the buffer")
	}
	checkZero(t, "grown reused buffer", c)
}

func TestDistinctWhileHeld(t *testing.T) {
	p := newPool(t, Config{})
	seen := map[uintptr]bool{}
	var held [][]byte
	for range 3 {
		for range 50 {
			b := p.Allocate(200)
			if seen[addr(b)] {
				t.Fatalf("buffer %#x handed out twice", addr(b))
			}
			seen[addr(b)] = true
			held = append(held, b)
		}
		// Free half of them and forget them; the other half stays held.
		for _, b := range held[len(held)/2:] {
			delete(seen, addr(b))
			p.Free(b)
		}
		held = held[:len(held)/2]
	}
}

func TestReallocate(t *testing.T) {
	p := newPool(t, Config{})
	pattern := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + 1)
		}
		return b
	}

	// Grow within the class: same buffer, contents kept, extension zero.
	b := p.Allocate(300) // class 512
	copy(b, pattern(300))
	fill(b[300:cap(b)], 0xEE) // stale bytes past len, as a shrink leaves them
	g := p.Reallocate(500, b)
	if addr(g) != addr(b) || len(g) != 500 {
		t.Fatalf("grow within class: moved %v, len %d", addr(g) != addr(b), len(g))
	}
	if !bytes.Equal(g[:300], pattern(300)) {
		t.Fatal("grow within class lost the contents")
	}
	checkZero(t, "grow within class, extension", g[300:])

	// Grow past the class: moves, contents kept, the rest zero, the old
	// buffer back in its class.
	copy(g, pattern(500))
	h := p.Reallocate(3000, g)
	if len(h) != 3000 || cap(h) != 4096 || addr(h)%alignment != 0 {
		t.Fatalf("grow past class: len %d cap %d addr %#x", len(h), cap(h), addr(h))
	}
	if !bytes.Equal(h[:500], pattern(500)) {
		t.Fatal("grow past class lost the contents")
	}
	checkZero(t, "grow past class, extension", h[500:])
	if st := p.Stats(); st.Retained != 512 {
		t.Fatalf("old buffer not returned: retained %d, want 512", st.Retained)
	}
	if r := p.Allocate(512); addr(r) != addr(b) {
		t.Fatal("the grown-out-of buffer was not reused")
	} else {
		p.Free(r)
	}

	// Shrink a little: stays. Shrink below a quarter: moves to the small
	// class, contents kept.
	copy(h, pattern(3000))
	s := p.Reallocate(2000, h)
	if addr(s) != addr(h) || len(s) != 2000 {
		t.Fatalf("small shrink moved the buffer or len %d", len(s))
	}
	s = p.Reallocate(100, s)
	if addr(s) == addr(h) || cap(s) != 128 || len(s) != 100 {
		t.Fatalf("large shrink: same buffer %v, cap %d, len %d", addr(s) == addr(h), cap(s), len(s))
	}
	if !bytes.Equal(s, pattern(100)) {
		t.Fatal("shrink lost the contents")
	}

	// Reallocate of nothing allocates; to zero frees.
	n := p.Reallocate(64, nil)
	if len(n) != 64 {
		t.Fatalf("Reallocate(64, nil): len %d", len(n))
	}
	before := p.Stats().Retained
	if z := p.Reallocate(0, n); len(z) != 0 {
		t.Fatalf("Reallocate(0, b): len %d", len(z))
	}
	if got := p.Stats().Retained - before; got != 64 {
		t.Fatalf("Reallocate(0, b) retained %d more bytes, want 64", got)
	}
}

func TestBounds(t *testing.T) {
	p := newPool(t, Config{MaxClass: 4096, MaxRetained: 8192})
	var bufs [][]byte
	for range 4 {
		bufs = append(bufs, p.Allocate(4096))
	}
	for _, b := range bufs {
		p.Free(b)
	}
	if st := p.Stats(); st.Retained != 8192 || st.Drops != 2 {
		t.Fatalf("after freeing 16 KiB under an 8 KiB bound: %+v, want 8192 retained, 2 drops", st)
	}

	// Larger than the largest class: not kept.
	big := p.Allocate(8192)
	if addr(big)%alignment != 0 || len(big) != 8192 {
		t.Fatalf("large allocation: addr %#x len %d", addr(big), len(big))
	}
	p.Trim()
	p.Free(big)
	if st := p.Stats(); st.Retained != 0 || st.Drops != 3 {
		t.Fatalf("after Trim and a large free: %+v, want nothing retained, 3 drops", st)
	}

	// A slice the pool did not shape is not kept.
	foreign := make([]byte, 100)
	p.Free(foreign)
	p.Free(p.Allocate(1024)[1:])
	if st := p.Stats(); st.Retained != 0 || st.Drops != 5 {
		t.Fatalf("after freeing foreign slices: %+v, want nothing retained, 5 drops", st)
	}
}

// TestConcurrent has goroutines allocate, stamp, check and free buffers of
// mixed sizes at once: a buffer handed to two owners shows the other's
// stamp (and, under -race, a data race).
func TestConcurrent(t *testing.T) {
	p := newPool(t, Config{MaxRetained: 1 << 20})
	const workers, rounds = 8, 2000
	sizes := []int{10, 64, 200, 1000, 5000, 70000}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			stamp := byte(w + 1)
			var held [][]byte
			for r := range rounds {
				size := sizes[(r+w)%len(sizes)]
				var b []byte
				if r%3 == 0 && len(held) > 0 {
					b = p.Reallocate(size, held[len(held)-1])
					held = held[:len(held)-1]
					for i, c := range b {
						if c != 0 && c != stamp {
							errs <- fmt.Errorf("worker %d: reallocated buffer holds %#x at %d", w, c, i)
							return
						}
					}
				} else {
					b = p.Allocate(size)
					if !allAre(b, 0) {
						errs <- fmt.Errorf("worker %d: new buffer of %d not zero", w, size)
						return
					}
				}
				fill(b, stamp)
				held = append(held, b)
				if len(held) > 4 || r%5 == 0 {
					runtime.Gosched()
					for _, h := range held {
						if !allAre(h, stamp) {
							errs <- fmt.Errorf("worker %d: a held buffer was overwritten", w)
							return
						}
					}
					p.Free(held[0])
					held = held[1:]
				}
			}
			for _, h := range held {
				p.Free(h)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := p.Stats(); st.Hits == 0 || st.Retained > 1<<20 {
		t.Errorf("stats %+v: want reuse and at most 1 MiB retained", st)
	}
}
