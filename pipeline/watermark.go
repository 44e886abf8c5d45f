package pipeline

// watermarks tracks the job's watermark: the minimum over the active shards of
// (highest event time seen - bound). A finished shard stops counting; an idle
// one too, until it produces rows again. The job's watermark never goes back.
type watermarks struct {
	bound   int64
	shards  map[string]*shardClock
	current int64
}

type shardClock struct {
	max  int64 // highest event time seen, MinTime if none
	idle bool
}

func newWatermarks(bound int64) *watermarks {
	return &watermarks{bound: bound, shards: map[string]*shardClock{}, current: MinTime}
}

// add starts counting a shard whose highest event time so far is max.
func (w *watermarks) add(shard string, max int64) {
	w.shards[shard] = &shardClock{max: max}
}

// remove stops counting a shard (it finished or stopped).
func (w *watermarks) remove(shard string) { delete(w.shards, shard) }

// observe records that shard produced rows up to event time t; a shard that
// produces rows is no longer idle.
func (w *watermarks) observe(shard string, t int64) {
	if s, ok := w.shards[shard]; ok {
		s.idle = false
		if t > s.max {
			s.max = t
		}
	}
}

// setIdle marks a shard idle (caught up, nothing to read) or active.
func (w *watermarks) setIdle(shard string, idle bool) {
	if s, ok := w.shards[shard]; ok {
		s.idle = idle
	}
}

// max returns the highest event time seen on shard (MinTime if unknown).
func (w *watermarks) max(shard string) int64 {
	if s, ok := w.shards[shard]; ok {
		return s.max
	}
	return MinTime
}

// advance recomputes the job's watermark and reports whether it moved forward.
// With no active shard the watermark stays where it is.
func (w *watermarks) advance() (int64, bool) {
	low, active := MaxTime, false
	for _, s := range w.shards {
		if s.idle {
			continue
		}
		active = true
		low = min(low, shardWatermark(s.max, w.bound))
	}
	if !active || low <= w.current {
		return w.current, false
	}
	w.current = low
	return low, true
}

// finish moves the watermark to MaxTime: the input has ended.
func (w *watermarks) finish() { w.current = MaxTime }

// shardWatermark is max - bound, saturating at MinTime: an event time near the
// int64 minimum must not wrap around to a watermark in the far future.
func shardWatermark(max, bound int64) int64 {
	if max < MinTime+bound {
		return MinTime
	}
	return max - bound
}
