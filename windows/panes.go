package windows

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/shardflow/shardflow/pipeline"
)

// Sliding windows from panes. A sliding window of size n*slide is the union
// of n panes, the tumbling windows of the slide: the operator folds each row
// into its one pane, as for tumbling windows, and merges a window's panes
// when it fires, so a row costs one update instead of n. A pane is kept
// until the last window that holds it has fired.
//
// Lateness stays per window. A row is late for the windows that end at or
// before its limit (lateLimits): with its pane ending at or before the
// limit, the first j of the n windows that hold the pane are late for it,
// 1 <= j < n, and the rest are not (with j >= n the row is late). Such a
// row goes to the pane of a level-j shard state of its shard (the shard's
// name, levelSep and j), whose panes count only in the windows ending at
// least j slides after the pane: the output is the one the fan-out of
// every row into its windows would give. Rows that far behind their
// shard's clock are rare, and level states hold only them.

// levelSep separates a shard's name from the level of its partly late rows
// in the name of their shard state.
const levelSep = "\x00late"

// panePlan is how a sliding window stage runs on panes.
type panePlan struct {
	slide  int64 // the pane's size: the sliding windows' slide
	window int64 // the sliding windows' size, n*slide
	n      int64
}

// panesOf returns the pane plan of a sliding assigner of more than one window
// per row, and the tumbling assigner of its panes.
func panesOf(a Assigner) (*panePlan, *TumblingAssigner) {
	s, ok := a.(*SlidingAssigner)
	if !ok || s.err != nil || s.size/s.slide < 2 {
		return nil, nil
	}
	return &panePlan{slide: s.slide, window: s.size, n: s.size / s.slide},
		&TumblingAssigner{size: s.slide, offset: s.offset}
}

// level returns how many of the windows of the pane ending at paneEnd are
// late for a row whose windows ending at or before limit are late (0 when
// none is, n or more when all are).
func (pp *panePlan) level(paneEnd, limit int64) int64 {
	if paneEnd > limit {
		return 0
	}
	return (limit-paneEnd)/pp.slide + 1
}

// levelShard names the state of shard's rows of level j.
func levelShard(shard string, j int64) string {
	return shard + levelSep + strconv.FormatInt(j, 10)
}

// shardLevel splits a shard state's name into the source shard's name and
// the level of its rows (0 for the shard's own state).
func shardLevel(name string) (string, int64) {
	shard, lv, ok := strings.Cut(name, levelSep)
	if !ok {
		return name, 0
	}
	j, err := strconv.ParseInt(lv, 10, 64)
	if err != nil || j < 1 {
		return name, 0
	}
	return shard, j
}

// levelRow is a row of the batch in process whose pane is late for some of
// its windows.
type levelRow struct {
	row   int32
	level int64
}

// partlyLate notes row i, whose window (with panes: pane) ending at end is
// late for it by limit, for foldLevels when the row is late for some of the
// windows that hold its pane but not for all, and reports whether it is.
func (o *Operator) partlyLate(i int, end, limit int64) bool {
	pp := o.p.panes
	if pp == nil {
		return false
	}
	lv := pp.level(end, limit)
	if lv >= pp.n {
		return false
	}
	o.levels = append(o.levels, levelRow{row: int32(i), level: lv})
	return true
}

// foldLevels folds the rows o.levels of rec, whose keys are in o.kids, into
// the level states of shard.
func (o *Operator) foldLevels(shard string, rec arrow.RecordBatch, ts []int64) error {
	slices.SortStableFunc(o.levels, func(a, b levelRow) int { return int(a.level - b.level) })
	for lo := 0; lo < len(o.levels); {
		hi := lo
		for hi < len(o.levels) && o.levels[hi].level == o.levels[lo].level {
			hi++
		}
		sh := o.shard(levelShard(shard, o.levels[lo].level))
		o.bwins = o.bwins[:0]
		rows, slots, wins := o.rows[:0], o.slots[:0], o.wins[:0]
		for _, lr := range o.levels[lo:hi] {
			i := int(lr.row)
			st := o.starts[i]
			ws, wi := o.batchWindow(sh, st, windowEnd(st, o.p.size), 0)
			kid := o.kids[i]
			s, ok := ws.slots[kid]
			if !ok {
				s = o.newGroup(sh, ws, kid)
			}
			rows, slots, wins = append(rows, lr.row), append(slots, s), append(wins, wi)
		}
		if err := o.aggregate(sh, rec, rows, ts, rows, slots, wins); err != nil { // each row once
			return err
		}
		lo = hi
	}
	return nil
}

// firePanes is onWatermark for sliding windows on panes: it fires every
// window ending in (o.wm, wm] that holds a pane, merging its panes of every
// shard, frees the panes no later window holds, and returns the starts of
// the windows it fired.
func (o *Operator) firePanes(wm int64, emit pipeline.Emit) ([]int64, error) {
	if wm <= o.wm {
		return nil, nil
	}
	pp := o.p.panes
	prev := o.wm
	if wm == pipeline.MaxTime {
		defer func() { o.wm = max(prev, o.lastEnd) }()
	}
	o.wm = wm
	// The windows holding pane p start at p, p-slide, ... p-window+slide;
	// those that fire now start in (prev-window, wm-window].
	fire := map[int64]struct{}{}
	lo, hi := subSat(prev, pp.window), subSat(wm, pp.window)
	for _, sh := range o.byName {
		for wk := range sh.windows { // panes have no correction steps
			p := wk.start
			top := min(p, hi)
			top = subSat(top, floorMod(floorMod(top, pp.slide)-floorMod(p, pp.slide), pp.slide)) // on p's grid
			bottom := max(subSat(p, pp.window), lo)                                              // exclusive
			for s := top; s > bottom; s -= pp.slide {
				fire[s] = struct{}{}
				if s < math.MinInt64+pp.slide {
					break
				}
			}
		}
	}
	var fired []int64
	if len(fire) > 0 {
		b := array.NewRecordBuilder(o.mem, o.p.out)
		defer b.Release()
		var ps []part
		for _, st := range slices.Sorted(maps.Keys(fire)) {
			end := windowEnd(st, pp.window)
			ps = ps[:0]
			for _, sh := range o.byName {
				_, j := shardLevel(sh.name)
				for p := st; p < end && p >= st; p += pp.slide {
					ws := sh.windows[winKey{p, 0}]
					if ws != nil && (j == 0 || end >= windowEnd(ws.end, j*pp.slide)) {
						ps = append(ps, part{sh: sh, ws: ws})
					}
				}
			}
			if len(ps) == 0 {
				continue // its panes here are of rows late for it
			}
			if err := o.mergeWindow(ps, st, end, b); err != nil {
				return nil, err
			}
			o.lastEnd = max(o.lastEnd, end)
			fired = append(fired, st)
		}
		if len(fired) > 0 {
			emit(&pipeline.Batch{Rec: b.NewRecordBatch(), MinTime: fired[0], MaxTime: windowEnd(fired[len(fired)-1], pp.window)})
		}
	}
	for _, sh := range o.byName {
		for _, ws := range sh.windows {
			if windowEnd(ws.start, pp.window) <= wm {
				o.freeWindow(sh, ws)
			}
		}
	}
	o.dropIdleShards()
	o.maybeCompact()
	return fired, nil
}

// errPanesSpill refuses a spill store for sliding windows, whose panes the
// spilled sets do not follow yet.
var errPanesSpill = errors.New("sliding windows do not spill their distinct sets yet: set a state limit without a spill store, or use tumbling windows")

// errPanesLateness refuses AllowedLateness for sliding windows, whose panes
// do not keep correction steps yet.
var errPanesLateness = errors.New("sliding windows of more than one window per row do not allow lateness yet: use tumbling windows, or no AllowedLateness")

// checkPaneSnapshot returns the error of a window of a pane stage's snapshot
// that has the bounds of a whole sliding window: a snapshot of a release
// that fanned rows out into their windows.
func (o *Operator) checkPaneSnapshot(start, end int64) error {
	if o.p.panes != nil && end == windowEnd(start, o.p.panes.window) {
		return fmt.Errorf("%w: %s: the snapshot holds whole sliding windows, as releases before panes kept them: finish the job with that release, or start it afresh",
			ErrCorruptSnapshot, o.p.name)
	}
	return nil
}
