package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/archive"
	"github.com/shardflow/shardflow/sources/kinesis"
)

// A replay's progress: per shard and overall, the share covered, the
// records and bytes read, the rate and an ETA from that share. Of a
// Kinesis stream the share is of the time range, by the arrival time
// (ApproximateArrivalTimestamp) of the last records read, which the source
// tracks for its load metrics (kinesis.Source.Load, ShardLoad.Until, to the
// second), and the bytes are those the source fetched (Source.BytesRead:
// ahead of the records the job has taken by up to the reader's queue); of
// an archive it is each object's bytes read against its size
// (archive.Source.Progress). On a terminal the bars are
// drawn by mpb; otherwise a plain line is logged every logEvery.

const (
	barsEvery = 500 * time.Millisecond
	logEvery  = 10 * time.Second
	// maxShardBars is how many shard bars are drawn at once: with more
	// shards, a shard's bar goes when it is done and the next shard gets one.
	maxShardBars = 16
	barScale     = 1000 // a bar's total: its share in thousandths
	barWidth     = 42   // at most, brackets included
)

// shardRead is what the source tells of a shard beyond the job's stats.
type shardRead struct {
	Until time.Time // Kinesis: the arrival time of the last records read
	Bytes int64     // Kinesis: fetched in this run; archive: of the object, so far
	Size  int64     // archive: the object's size
}

// shardBar is one shard's line.
type shardBar struct {
	Shard   string
	Records int64
	Bytes   int64
	Covered float64       // share read, 0..1; <0 while unknown
	Rate    float64       // records/s
	ETA     time.Duration // <0 while unknown
	Done    bool
}

// progressView is what the bars show at one moment.
type progressView struct {
	Of      string // what Covered is a share of: "the range" or "the archive"
	Shards  []shardBar
	Records int64
	Bytes   int64
	Rate    float64       // records/s since the last view (the last: since the start)
	Covered float64       // <0 while unknown
	ETA     time.Duration // <0 while unknown
	Elapsed time.Duration
	Done    int // shards done
}

// rangeClock turns arrival times into shares of a replay's range. When
// --from is trim_horizon the range of a shard starts at the first arrival
// time seen on it.
type rangeClock struct {
	from, to time.Time // from is zero for trim_horizon
	first    map[string]time.Time
}

func (c *rangeClock) share(shard string, until time.Time) float64 {
	if until.IsZero() {
		return -1
	}
	from := c.from
	if from.IsZero() {
		if c.first == nil {
			c.first = map[string]time.Time{}
		}
		f, ok := c.first[shard]
		if !ok {
			c.first[shard], f = until, until
		}
		from = f
	}
	span := c.to.Sub(from)
	if span <= 0 {
		return -1
	}
	return min(max(float64(until.Sub(from))/float64(span), 0), 1)
}

// buildView puts the job's stats and the source's reads together: rates
// are since prev, dt ago. With a rangeClock shares are of the time range
// (the total: the mean of the shards'); with none (an archive) of the
// bytes of each shard (the total: of all the bytes), and the shards are
// every object the source lists, read or not.
func buildView(st, prev pipeline.Stats, dt time.Duration, reads map[string]shardRead, c *rangeClock, elapsed time.Duration) progressView {
	secs := max(dt.Seconds(), 1e-9)
	v := progressView{Of: "the range", Records: st.RecordsIn, Rate: float64(st.RecordsIn-prev.RecordsIn) / secs,
		Covered: -1, ETA: -1, Elapsed: elapsed}
	if c == nil {
		v.Of = "the archive"
	}
	before := map[string]int64{}
	for _, s := range prev.Shards {
		before[s.Shard] = s.Records
	}
	shards := append([]pipeline.ShardProgress(nil), st.Shards...)
	if c == nil { // the objects not opened yet
		inStats := map[string]bool{}
		for _, s := range st.Shards {
			inStats[s.Shard] = true
		}
		for id := range reads {
			if !inStats[id] {
				shards = append(shards, pipeline.ShardProgress{Shard: id})
			}
		}
		slices.SortFunc(shards, func(a, b pipeline.ShardProgress) int { return strings.Compare(a.Shard, b.Shard) })
	}
	var sum float64
	var read, size int64
	known := 0
	for _, s := range shards {
		r := reads[s.Shard]
		b := shardBar{Shard: s.Shard, Records: s.Records, Bytes: r.Bytes, Done: s.Finished, Covered: -1, ETA: -1,
			Rate: float64(s.Records-before[s.Shard]) / secs}
		switch {
		case s.Finished:
			b.Covered = 1
		case c == nil && r.Size > 0:
			b.Covered = min(float64(r.Bytes)/float64(r.Size), 1)
		case c == nil:
			b.Covered = 0
		default:
			b.Covered = c.share(s.Shard, r.Until)
		}
		if s.Finished {
			read += r.Size
			v.Done++
		} else {
			read += min(r.Bytes, r.Size)
		}
		size += r.Size
		b.ETA = etaOf(b.Covered, elapsed)
		if b.Covered >= 0 {
			sum += b.Covered
			known++
		}
		v.Bytes += b.Bytes
		v.Shards = append(v.Shards, b)
	}
	switch {
	case c == nil && size > 0:
		v.Covered = float64(read) / float64(size)
	case known > 0 && known == len(v.Shards):
		v.Covered = sum / float64(known)
	}
	if st.Finished {
		v.Covered = 1
	}
	v.ETA = etaOf(v.Covered, elapsed)
	return v
}

// etaOf is the time left if the rest goes as fast as the share covered in
// elapsed did.
func etaOf(covered float64, elapsed time.Duration) time.Duration {
	switch {
	case covered >= 1:
		return 0
	case covered > 0:
		return time.Duration(float64(elapsed) * (1 - covered) / covered).Round(time.Second)
	}
	return -1
}

// progressLogLine is the line logged every logEvery when stderr is not a
// terminal.
func progressLogLine(v progressView) string {
	return fmt.Sprintf("replay: %s of %s, %s records, %s, %s records/s, ETA %s, %d of %d shards done, %s elapsed",
		pct(v.Covered), v.Of, count(v.Records), mibs(v.Bytes), count(int64(v.Rate)), eta(v.ETA), v.Done, len(v.Shards), v.Elapsed.Round(time.Second))
}

func pct(share float64) string {
	if share < 0 {
		return "  ?%"
	}
	return fmt.Sprintf("%3.0f%%", share*100)
}

func eta(d time.Duration) string {
	if d < 0 {
		return "?"
	}
	return d.String()
}

func mibs(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/mib) }

// bars draws views with mpb: a bar per shard, in shard ID order (a
// Kinesis shard's parents before it), then the total. Each show is one
// frame.
type bars struct {
	p       *mpb.Progress
	refresh chan any
	shut    chan any // closed when mpb has shut down
	shards  map[string]*mpb.Bar
	prio    map[string]int
	total   *mpb.Bar
	many    bool                      // more shards than maxShardBars
	cur     atomic.Pointer[barsFrame] // what the decorators show
}

type barsFrame struct {
	v  progressView
	at map[string]int // shard -> index in v.Shards
}

// newBars draws on w, width columns wide unless w is a terminal (then mpb
// follows the terminal's width); tty says to move the cursor back over the
// last frame, as on a terminal.
func newBars(w io.Writer, width int, tty bool) *bars {
	b := &bars{refresh: make(chan any), shut: make(chan any), shards: map[string]*mpb.Bar{}, prio: map[string]int{}}
	b.p = mpb.New(mpb.WithOutput(w), mpb.WithWidth(width), mpb.WithManualRefresh(b.refresh),
		mpb.WithShutdownNotifier(b.shut), mpb.ContainerOptional(mpb.ForceTTY(), tty))
	return b
}

// show draws v. After a failed draw (mpb then shuts down) it draws nothing.
func (b *bars) show(v progressView) {
	b.update(v)
	select {
	case b.refresh <- time.Now():
	case <-b.shut:
	}
}

// stop draws v last: the bars of shards not done stop where they are.
func (b *bars) stop(v progressView) {
	b.update(v)
	for id, bar := range b.shards {
		if !b.done(id) {
			bar.Abort(false)
		}
	}
	if b.total != nil && !v.allDone() {
		b.total.Abort(false)
	}
	b.p.Wait() // the last bar to end draws the last frame
}

func (b *bars) done(shard string) bool {
	f := b.cur.Load()
	i, ok := f.at[shard]
	return ok && f.v.Shards[i].Done
}

func (b *bars) update(v progressView) {
	f := &barsFrame{v: v, at: make(map[string]int, len(v.Shards))}
	for i, s := range v.Shards {
		f.at[s.Shard] = i
	}
	b.cur.Store(f)
	b.many = b.many || len(v.Shards) > maxShardBars
	// Every bar is added before any is set: a bar that completes while it
	// is the only one would draw a frame of its own.
	var set []func()
	drawn := 0
	for i, s := range v.Shards {
		bar, ok := b.shards[s.Shard]
		if !ok {
			if drawn >= maxShardBars || (b.many && s.Done) {
				continue
			}
			var err error
			if bar, err = b.p.Add(barScale, barStyle().Build(), b.barOptions(barName(v.Of, s.Shard), s.Shard, i)...); err != nil {
				return // mpb shut down
			}
			b.shards[s.Shard], b.prio[s.Shard] = bar, i
		} else if b.prio[s.Shard] != i {
			bar.SetPriority(i)
			b.prio[s.Shard] = i
		}
		if !(b.many && s.Done) {
			drawn++
		}
		set = append(set, func() { bar.SetCurrent(barValue(s.Covered, s.Done)) })
	}
	if b.total == nil {
		var err error
		if b.total, err = b.p.Add(barScale, barStyle().Build(), b.totalOptions()...); err != nil {
			return
		}
	}
	for _, f := range set {
		f()
	}
	b.total.SetCurrent(barValue(v.Covered, v.allDone()))
}

// allDone reports whether every shard is done.
func (v progressView) allDone() bool { return len(v.Shards) > 0 && v.Done == len(v.Shards) }

// barValue is a bar's current: a bar completes when its shard is done, not
// before, whatever the share says.
func barValue(covered float64, done bool) int64 {
	if done {
		return barScale
	}
	return min(int64(max(covered, 0)*barScale), barScale-1)
}

func barStyle() mpb.BarStyleComposer {
	return mpb.BarStyle().Lbound("[").Filler("=").Tip(">").Padding(" ").Rbound("]")
}

func (b *bars) barOptions(name string, shard string, prio int) []mpb.BarOption {
	get := func(wc decor.WC, fn func(shardBar) string) decor.Decorator {
		return decor.Any(func(decor.Statistics) string {
			f := b.cur.Load()
			if i, ok := f.at[shard]; ok {
				return fn(f.v.Shards[i])
			}
			return ""
		}, wc)
	}
	return []mpb.BarOption{
		mpb.BarPriority(prio),
		mpb.BarWidth(barWidth),
		mpb.BarOptional(mpb.BarRemoveOnComplete(), b.many),
		mpb.PrependDecorators(decor.Name(name, decor.WCSyncWidthR)),
		mpb.AppendDecorators(
			get(decor.WCSyncWidth, func(s shardBar) string { return pct(s.Covered) }),
			get(decor.WCSyncSpace, func(s shardBar) string { return count(s.Records) + " rec" }),
			get(decor.WCSyncSpace, func(s shardBar) string { return mibs(s.Bytes) }),
			get(decor.WCSyncSpace, func(s shardBar) string { return count(int64(s.Rate)) + " rec/s" }),
			decor.Any(func(decor.Statistics) string {
				f := b.cur.Load()
				if i, ok := f.at[shard]; ok && f.v.Shards[i].Done {
					return " done"
				} else if ok {
					return " ETA " + eta(f.v.Shards[i].ETA)
				}
				return ""
			}, decor.WCSyncWidthR),
		),
	}
}

// totalOptions are the total's bar's: its columns are the shards' (so
// that the bars line up), its last one also counts the shards done.
func (b *bars) totalOptions() []mpb.BarOption {
	get := func(wc decor.WC, fn func(progressView) string) decor.Decorator {
		return decor.Any(func(decor.Statistics) string { return fn(b.cur.Load().v) }, wc)
	}
	return []mpb.BarOption{
		mpb.BarPriority(math.MaxInt32),
		mpb.BarWidth(barWidth),
		mpb.PrependDecorators(decor.Name("total", decor.WCSyncWidthR)),
		mpb.AppendDecorators(
			get(decor.WCSyncWidth, func(v progressView) string { return pct(v.Covered) }),
			get(decor.WCSyncSpace, func(v progressView) string { return count(v.Records) + " rec" }),
			get(decor.WCSyncSpace, func(v progressView) string { return mibs(v.Bytes) }),
			get(decor.WCSyncSpace, func(v progressView) string { return count(int64(v.Rate)) + " rec/s" }),
			get(decor.WCSyncWidthR, func(v progressView) string {
				return fmt.Sprintf(" ETA %s, %d/%d done", eta(v.ETA), v.Done, len(v.Shards))
			}),
		),
	}
}

// barName is a shard's name on its bar: a Kinesis shard's number; an
// archive object's file name, shortened in the middle when long.
func barName(of, shard string) string {
	if of != "the archive" {
		return shortShard(shard)
	}
	name := []rune(path.Base(shard))
	if len(name) > 32 {
		name = append(append(name[:15:15], '…'), name[len(name)-16:]...)
	}
	return string(name)
}

// readsOf returns how to ask src how far its shards have been read.
func readsOf(src pipeline.Source) func() map[string]shardRead {
	switch s := src.(type) {
	case interface {
		Load() []kinesis.ShardLoad
		BytesRead() map[string]int64
	}:
		return func() map[string]shardRead {
			m := map[string]shardRead{}
			for id, n := range s.BytesRead() { // the shards done too
				m[id] = shardRead{Bytes: n}
			}
			for _, l := range s.Load() {
				m[l.Shard] = shardRead{Until: l.Until, Bytes: m[l.Shard].Bytes}
			}
			return m
		}
	case interface {
		Progress() []archive.ObjectProgress
	}:
		return func() map[string]shardRead {
			m := map[string]shardRead{}
			for _, o := range s.Progress() {
				m[o.Key] = shardRead{Bytes: o.Read, Size: o.Size}
			}
			return m
		}
	}
	return func() map[string]shardRead { return nil }
}

// startProgress shows the replay's bars on a terminal stderr (mode on or
// auto), or logs a plain line every logEvery when stderr is not a terminal
// (mode auto); off shows nothing. c is nil for an archive.
func startProgress(mode string, job *pipeline.Job, src pipeline.Source, c *rangeClock, stderr io.Writer) (stop func()) {
	if mode == "off" {
		return func() {}
	}
	tty := false
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		tty = true
	}
	if tty || mode == "on" {
		b := newBars(stderr, termWidth(stderr)-1, true)
		return tickProgress(job.Stats, readsOf(src), c, barsEvery, func(v progressView, last bool) {
			if last {
				b.stop(v)
			} else {
				b.show(v)
			}
		})
	}
	return tickProgress(job.Stats, readsOf(src), c, logEvery, func(v progressView, _ bool) {
		fmt.Fprintln(stderr, progressLogLine(v))
	})
}

// tickProgress calls show with a fresh view every tick until stop, and once
// more, last, at stop. A shard's last arrival time stays when the source
// no longer reports it (a Kinesis shard's reader closes when it is done).
func tickProgress(stats func() pipeline.Stats, reads func() map[string]shardRead, c *rangeClock, every time.Duration, show func(v progressView, last bool)) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		tick := time.NewTicker(every)
		defer tick.Stop()
		var last pipeline.Stats
		lastAt, seen := start, map[string]shardRead{}
		for {
			var now time.Time
			final := false
			select {
			case <-done:
				now, final = time.Now(), true
			case now = <-tick.C:
			}
			st := stats()
			for id, r := range reads() {
				if r.Until.IsZero() {
					r.Until = seen[id].Until
				}
				seen[id] = r
			}
			if final { // the last view shows the replay's mean rate
				last, lastAt = pipeline.Stats{}, start
			}
			show(buildView(st, last, now.Sub(lastAt), seen, c, now.Sub(start)), final)
			if final {
				return
			}
			last, lastAt = st, now
		}
	}()
	return func() { close(done); <-finished }
}

// replayProgress is runFlags.progress for a replay of from..to (flags
// already checked by replayRange); --to now ends at now, when the replay
// started, as near as arrival times tell of the tips.
func replayProgress(mode, from, to string, now time.Time) func(*pipeline.Job, pipeline.Source, io.Writer) func() {
	c := &rangeClock{to: now}
	if t, err := time.Parse(time.RFC3339, to); err == nil {
		c.to = t
	}
	if t, err := time.Parse(time.RFC3339, from); err == nil {
		c.from = t
	}
	return func(job *pipeline.Job, src pipeline.Source, stderr io.Writer) func() {
		return startProgress(mode, job, src, c, stderr)
	}
}

// archiveProgress is runFlags.progress for a replay of an archive: shares
// are of each object's bytes.
func archiveProgress(mode string) func(*pipeline.Job, pipeline.Source, io.Writer) func() {
	return func(job *pipeline.Job, src pipeline.Source, stderr io.Writer) func() {
		return startProgress(mode, job, src, nil, stderr)
	}
}
