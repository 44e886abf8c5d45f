package windows

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Assigner maps event times to the windows that contain them. Windows are
// half-open intervals [start, start+Size()) of event-time milliseconds, and
// every event time belongs to exactly Fanout() of them.
//
// Tumbling and Sliding windows are Assigners. Session windows are not: their
// bounds depend on the key's other rows, so they will come as an Assigner that
// also implements a merging interface, which the operator finds by type
// assertion and handles by merging a key's overlapping windows with the same
// mergeable accumulators it already merges across shards (see mergeSlot).
type Assigner interface {
	// String renders the assigner in stage names, e.g. "tumbling(1m)".
	String() string
	// Validate reports whether the assigner's parameters make sense.
	Validate() error
	// Size is the length of every window in milliseconds.
	Size() int64
	// Fanout is the number of windows every event time belongs to.
	Fanout() int
	// Assign writes the starts of the windows that contain ts[i] to
	// starts[i*Fanout() : (i+1)*Fanout()], in increasing order.
	// len(starts) must be at least len(ts)*Fanout().
	Assign(ts, starts []int64)
}

var (
	_ Assigner = (*TumblingAssigner)(nil)
	_ Assigner = (*SlidingAssigner)(nil)
)

// TumblingAssigner assigns every event time to exactly one window of a fixed
// size; windows are aligned to the Unix epoch plus an optional offset.
type TumblingAssigner struct {
	size   int64
	offset int64 // in [0, size)
	err    error
}

// Tumbling returns an assigner of back-to-back windows of the given size,
// aligned to the epoch: with size one minute, [12:00, 12:01), [12:01, 12:02)...
// The size must be a positive whole number of milliseconds; an invalid size is
// reported when the window spec is bound (KeyedStage).
func Tumbling(size time.Duration) *TumblingAssigner {
	ms, err := durationMillis("tumbling size", size)
	return &TumblingAssigner{size: ms, err: err}
}

// WithOffset returns a copy of t whose windows start offset after the epoch
// alignment, e.g. Tumbling(24*time.Hour).WithOffset(-8*time.Hour) for days in
// UTC+8. Offsets are taken modulo the window size.
func (t *TumblingAssigner) WithOffset(offset time.Duration) *TumblingAssigner {
	c := *t
	off, err := offsetMillis(offset)
	if c.err == nil {
		c.err = err
	}
	if c.err == nil {
		c.offset = floorMod(off, c.size)
	}
	return &c
}

// Aggregate returns the window spec that computes aggs over t's windows.
func (t *TumblingAssigner) Aggregate(aggs ...Agg) *Spec { return Aggregate(t, aggs...) }

// String implements Assigner: "tumbling(1m)" or "tumbling(1d, offset 16h)".
func (t *TumblingAssigner) String() string {
	if t.offset != 0 {
		return "tumbling(" + formatMillis(t.size) + ", offset " + formatMillis(t.offset) + ")"
	}
	return "tumbling(" + formatMillis(t.size) + ")"
}

// Validate implements Assigner.
func (t *TumblingAssigner) Validate() error { return t.err }

// Size implements Assigner.
func (t *TumblingAssigner) Size() int64 { return t.size }

// Fanout implements Assigner: 1.
func (t *TumblingAssigner) Fanout() int { return 1 }

// Assign implements Assigner.
func (t *TumblingAssigner) Assign(ts, starts []int64) {
	size, off := t.size, t.offset
	starts = starts[:len(ts)]
	if off == 0 {
		for i, v := range ts {
			r := v % size
			if r < 0 {
				r += size
			}
			starts[i] = subSat(v, r)
		}
		return
	}
	for i, v := range ts {
		starts[i] = windowStart(v, size, off)
	}
}

// SlidingAssigner assigns every event time to size/slide overlapping windows
// of a fixed size that start every slide.
type SlidingAssigner struct {
	size, slide, offset int64
	err                 error
}

// Sliding returns an assigner of windows of the given size starting every
// slide, aligned to the epoch; size must be a multiple of slide.
func Sliding(size, slide time.Duration) *SlidingAssigner {
	s := &SlidingAssigner{}
	s.size, s.err = durationMillis("sliding size", size)
	if s.err == nil {
		s.slide, s.err = durationMillis("sliding slide", slide)
	}
	if s.err == nil && s.size%s.slide != 0 {
		s.err = fmt.Errorf("windows: sliding size %v is not a multiple of slide %v", size, slide)
	}
	if s.err == nil && s.size/s.slide > maxFanout {
		s.err = fmt.Errorf("windows: sliding size %v over slide %v gives %d windows per row, more than %d", size, slide, s.size/s.slide, maxFanout)
	}
	return s
}

// maxFanout bounds the windows per row of a sliding assigner.
const maxFanout = 1024

// WithOffset returns a copy of s whose windows start offset after the epoch
// alignment; offsets are taken modulo the slide.
func (s *SlidingAssigner) WithOffset(offset time.Duration) *SlidingAssigner {
	c := *s
	off, err := offsetMillis(offset)
	if c.err == nil {
		c.err = err
	}
	if c.err == nil {
		c.offset = floorMod(off, c.slide)
	}
	return &c
}

// Aggregate returns the window spec that computes aggs over s's windows.
func (s *SlidingAssigner) Aggregate(aggs ...Agg) *Spec { return Aggregate(s, aggs...) }

// String implements Assigner: "sliding(10m, 1m)".
func (s *SlidingAssigner) String() string {
	if s.offset != 0 {
		return "sliding(" + formatMillis(s.size) + ", " + formatMillis(s.slide) + ", offset " + formatMillis(s.offset) + ")"
	}
	return "sliding(" + formatMillis(s.size) + ", " + formatMillis(s.slide) + ")"
}

// Validate implements Assigner.
func (s *SlidingAssigner) Validate() error { return s.err }

// Size implements Assigner.
func (s *SlidingAssigner) Size() int64 { return s.size }

// Fanout implements Assigner: size/slide.
func (s *SlidingAssigner) Fanout() int {
	if s.err != nil {
		return 1
	}
	return int(s.size / s.slide)
}

// Assign implements Assigner.
func (s *SlidingAssigner) Assign(ts, starts []int64) {
	f := s.Fanout()
	for i, v := range ts {
		last := windowStart(v, s.slide, s.offset)
		out := starts[i*f : (i+1)*f]
		for j := range out {
			out[j] = subSat(last, int64(f-1-j)*s.slide)
		}
	}
}

// windowStart is the start of the window of size (aligned to offset, which is
// in [0, size)) that contains t, saturating at MinInt64.
func windowStart(t, size, offset int64) int64 {
	r := (t%size - offset) % size
	if r < 0 {
		r += size
	}
	return subSat(t, r)
}

// windowEnd is start+size, saturating at MaxInt64.
func windowEnd(start, size int64) int64 {
	if start > math.MaxInt64-size {
		return math.MaxInt64
	}
	return start + size
}

// subSat is a-b for b >= 0, saturating at MinInt64.
func subSat(a, b int64) int64 {
	if a < math.MinInt64+b {
		return math.MinInt64
	}
	return a - b
}

func floorMod(a, m int64) int64 {
	r := a % m
	if r < 0 {
		r += m
	}
	return r
}

func durationMillis(what string, d time.Duration) (int64, error) {
	if d <= 0 || d%time.Millisecond != 0 {
		return 0, fmt.Errorf("windows: %s %v must be a positive whole number of milliseconds", what, d)
	}
	return d.Milliseconds(), nil
}

func offsetMillis(d time.Duration) (int64, error) {
	if d%time.Millisecond != 0 {
		return 0, fmt.Errorf("windows: offset %v must be a whole number of milliseconds", d)
	}
	return d.Milliseconds(), nil
}

// formatMillis renders a positive duration compactly: 1m, 1h30m, 1d, 1s500ms.
func formatMillis(ms int64) string {
	if ms == 0 {
		return "0"
	}
	var sb strings.Builder
	units := []struct {
		n    int64
		name string
	}{{86_400_000, "d"}, {3_600_000, "h"}, {60_000, "m"}, {1000, "s"}, {1, "ms"}}
	for _, u := range units {
		if q := ms / u.n; q > 0 {
			sb.WriteString(strconv.FormatInt(q, 10))
			sb.WriteString(u.name)
			ms -= q * u.n
		}
	}
	return sb.String()
}
