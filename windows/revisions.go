package windows

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/shardflow/shardflow/pipeline"
)

// ColRevision is the int64 column, last, of a window stage whose spec allows
// lateness (AllowedLateness): 0 for a window's first result, k for its k-th
// correction. A reader keeps, per window and key, the row with the highest
// revision.
const ColRevision = "revision"

// AllowedLateness keeps each window's state for l after it fires: a row
// that comes late for a window by less than l (its own shard's watermark
// is past the window's end, but by less than l) updates the window's
// result instead of being late, and the stage emits the corrected rows of
// the keys it changed, with a higher revision (ColRevision), every
// RevisionEvery of event time after the window's end. A row later than l
// is late as before (LateRows, or counted as late_rows). The output
// schema gets the column ColRevision, last.
//
// Which correction takes a row depends only on its own shard's records, so
// a bounded input gives the same rows, revisions included, on every run,
// whatever the pace of each shard. Session windows do not allow lateness
// yet, nor do sliding windows of more than one window per row (their
// panes keep no corrections: Bind refuses them); nor does a state limit
// spill a stage that allows lateness.
func (s *Spec) AllowedLateness(l time.Duration) *Spec {
	if l <= 0 || l%time.Millisecond != 0 {
		s.setBad(fmt.Sprintf("allowed lateness %s: want a positive whole number of milliseconds", l))
	}
	s.lateness = l.Milliseconds()
	return s
}

// RevisionEvery sets how often, in event time after a window's end, the
// stage emits the corrections of late rows within the allowed lateness:
// the k-th correction, revision k, comes when the job's watermark reaches
// the window's end + k·d, with the rows late by less than k·d. d must
// divide the allowed lateness; by default it is the allowed lateness (one
// correction).
func (s *Spec) RevisionEvery(d time.Duration) *Spec {
	if d <= 0 || d%time.Millisecond != 0 {
		s.setBad(fmt.Sprintf("revisions every %s: want a positive whole number of milliseconds", d))
	}
	s.revEvery = d.Milliseconds()
	return s
}

func (s *Spec) setBad(msg string) {
	if s.badLate == "" {
		s.badLate = msg
	}
}

// checkLateness validates AllowedLateness and RevisionEvery and returns
// them in milliseconds.
func (s *Spec) checkLateness(keys []string) (lateness, every int64, err error) {
	if s.badLate != "" {
		return 0, 0, errors.New("windows: " + s.badLate)
	}
	if s.lateness == 0 {
		if s.revEvery != 0 {
			return 0, 0, errors.New("windows: RevisionEvery without AllowedLateness")
		}
		return 0, 0, nil
	}
	every = s.revEvery
	if every == 0 {
		every = s.lateness
	}
	if s.lateness%every != 0 {
		return 0, 0, fmt.Errorf("windows: revisions every %s do not divide the allowed lateness %s",
			time.Duration(every)*time.Millisecond, time.Duration(s.lateness)*time.Millisecond)
	}
	if slices.Contains(keys, ColRevision) {
		return 0, 0, fmt.Errorf("windows: key column %q: output name already used by the revision column of AllowedLateness", ColRevision)
	}
	for _, a := range s.aggs {
		if a.name == ColRevision {
			return 0, 0, fmt.Errorf("windows: %s: output name already used by the revision column of AllowedLateness", a.label())
		}
	}
	return s.lateness, every, nil
}

// stepOf is the correction that takes a row of a window ending at end
// whose clock (its shard's watermark, or the job's if higher) is c, with
// end <= c < end + lateness: 1 for c < end + every, and so on.
func (o *Operator) stepOf(end, c int64) int32 {
	return int32((c-end)/o.p.revEvery) + 1
}

// fireRevisions fires, for the windows whose state is kept past their end
// (AllowedLateness), what watermark wm completes after prev: revision 0
// of each window that ends in (prev, wm], then each correction k whose time
// end + k·every is in (prev, wm], in order, with the corrected rows of the
// keys that rows of step k touched, then drops the windows whose lateness
// has passed. It appends to b and returns the starts of the windows fired
// (revision 0) and whether it appended anything.
func (o *Operator) fireRevisions(prev, wm int64, b *array.RecordBuilder) (fired []int64, minT, maxT int64, err error) {
	type win struct {
		end   int64
		base  []part           // the shards' on-time states
		steps map[int32][]part // the shards' states of each correction
	}
	wins := map[int64]*win{}
	for _, sh := range o.byName {
		for _, ws := range sh.windows {
			if ws.end > wm {
				continue
			}
			w := wins[ws.start]
			if w == nil {
				w = &win{end: ws.end, steps: map[int32][]part{}}
				wins[ws.start] = w
			}
			if ws.step == 0 {
				w.base = append(w.base, part{sh: sh, ws: ws})
			} else {
				w.steps[ws.step] = append(w.steps[ws.step], part{sh: sh, ws: ws})
			}
		}
	}
	minT, maxT = pipeline.MaxTime, pipeline.MinTime
	starts := slices.Sorted(maps.Keys(wins))
	lateness, every := o.p.lateness, o.p.revEvery
	for _, st := range starts {
		w := wins[st]
		appended := false
		if w.end > prev && len(w.base) > 0 {
			fired = append(fired, st)
			if err := o.mergeRevision(w.base, nil, 0, b); err != nil {
				return nil, 0, 0, err
			}
			appended = true
		}
		ps := slices.Clone(w.base)
		for k := int32(1); int64(k)*every <= lateness; k++ {
			at := w.end + int64(k)*every
			if at > wm {
				break
			}
			ps = append(ps, w.steps[k]...)
			if at > prev && len(w.steps[k]) > 0 {
				if err := o.mergeRevision(ps, w.steps[k], k, b); err != nil {
					return nil, 0, 0, err
				}
				appended = true
			}
		}
		if appended {
			minT, maxT = min(minT, st), max(maxT, w.end)
		}
		o.lastEnd = max(o.lastEnd, w.end)
		if w.end+lateness <= wm {
			for _, p := range ps {
				o.freeWindow(p.sh, p.ws)
			}
		}
	}
	return fired, minT, maxT, nil
}

// mergeRevision merges the parts ps of one window and appends to b the rows
// of revision rev: every key for revision 0, else the keys of the parts
// changed.
func (o *Operator) mergeRevision(ps, changed []part, rev int32, b *array.RecordBuilder) error {
	var only map[uint32]bool
	if changed != nil {
		only = map[uint32]bool{}
		for _, p := range changed {
			for _, kid := range p.ws.keys {
				only[kid] = true
			}
		}
	}
	before := b.Field(0).Len()
	if err := o.mergeWindowOnly(ps, ps[0].ws.start, ps[0].ws.end, only, b); err != nil {
		return err
	}
	rb := b.Field(len(b.Fields()) - 1).(*array.Int64Builder)
	for range b.Field(0).Len() - before {
		rb.Append(int64(rev))
	}
	return nil
}

// fireLate is onWatermark for a stage that allows lateness: it fires what
// wm completes after prev (fireRevisions) as one batch.
func (o *Operator) fireLate(prev, wm int64, emit pipeline.Emit) ([]int64, error) {
	b := array.NewRecordBuilder(o.mem, o.p.out)
	defer b.Release()
	fired, minT, maxT, err := o.fireRevisions(prev, wm, b)
	if err != nil {
		return nil, err
	}
	if b.Field(0).Len() > 0 {
		emit(&pipeline.Batch{Rec: b.NewRecordBatch(), MinTime: minT, MaxTime: maxT})
	}
	o.dropIdleShards()
	o.maybeCompact()
	return fired, nil
}

// sortedWindows is the keys of sh's window states by start, then step.
func sortedWindows(sh *shardState) []winKey {
	ks := slices.Collect(maps.Keys(sh.windows))
	slices.SortFunc(ks, func(a, b winKey) int {
		if c := cmp.Compare(a.start, b.start); c != 0 {
			return c
		}
		return cmp.Compare(a.step, b.step)
	})
	return ks
}
