package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/kinesis"
	"golang.org/x/term"
)

// A replay's progress: per shard and overall, the share of the time range
// covered, by the arrival time (ApproximateArrivalTimestamp) of the last
// records read, which the Kinesis source tracks for its load metrics
// (kinesis.Source.Load, ShardLoad.Until, to the second).

// shardBar is one shard's line.
type shardBar struct {
	Shard   string
	Records int64
	Covered float64 // share of the range read, 0..1; <0 while unknown
	Done    bool
}

// progressView is what the bars show at one moment.
type progressView struct {
	Shards  []shardBar
	Records int64
	Rate    float64       // records/s over the last tick
	Covered float64       // mean of the shards' shares, <0 while unknown
	ETA     time.Duration // <0 while unknown
	Elapsed time.Duration
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

// buildView puts the job's stats and the source's loads together.
func buildView(st pipeline.Stats, loads []kinesis.ShardLoad, c *rangeClock, rate float64, elapsed time.Duration) progressView {
	until := map[string]time.Time{}
	for _, l := range loads {
		until[l.Shard] = l.Until
	}
	v := progressView{Records: st.RecordsIn, Rate: rate, Covered: -1, ETA: -1, Elapsed: elapsed}
	var sum float64
	known := 0
	for _, s := range st.Shards {
		b := shardBar{Shard: s.Shard, Records: s.Records, Done: s.Finished, Covered: -1}
		if s.Finished {
			b.Covered = 1
		} else {
			b.Covered = c.share(s.Shard, until[s.Shard])
		}
		if b.Covered >= 0 {
			sum += b.Covered
			known++
		}
		v.Shards = append(v.Shards, b)
	}
	if known > 0 && known == len(v.Shards) {
		v.Covered = sum / float64(known)
		if v.Covered > 0 && v.Covered < 1 {
			v.ETA = time.Duration(float64(elapsed) * (1 - v.Covered) / v.Covered).Round(time.Second)
		} else if v.Covered >= 1 {
			v.ETA = 0
		}
	}
	return v
}

// progressLines renders v for a terminal width columns wide: a line per
// shard, then the total, with bars of one length (at most 40) so they line
// up; no line is wider than width-1, and when no bar of 5 fits, the lines
// go without.
func progressLines(v progressView, width int) []string {
	heads, tails := make([]string, 0, len(v.Shards)+1), make([]string, 0, len(v.Shards)+1)
	shares := make([]float64, 0, len(v.Shards)+1)
	for _, s := range v.Shards {
		tail := fmt.Sprintf(" %s %s rec", pct(s.Covered), count(s.Records))
		if s.Done {
			tail += " done"
		}
		heads, tails, shares = append(heads, shortShard(s.Shard)), append(tails, tail), append(shares, s.Covered)
	}
	heads = append(heads, "total")
	tails = append(tails, fmt.Sprintf(" %s %s rec %s rec/s ETA %s", pct(v.Covered), count(v.Records), count(int64(v.Rate)), eta(v.ETA)))
	shares = append(shares, v.Covered)
	headW, tailW := 0, 0
	for i := range heads {
		headW, tailW = max(headW, len([]rune(heads[i]))), max(tailW, len([]rune(tails[i])))
	}
	room := min(width-1-headW-tailW-3, 40)
	lines := make([]string, len(heads))
	for i := range heads {
		head := heads[i] + strings.Repeat(" ", headW-len([]rune(heads[i])))
		line := head + tails[i]
		if room >= 5 {
			fill := 0
			if shares[i] > 0 {
				fill = int(shares[i] * float64(room))
			}
			line = head + " [" + strings.Repeat("=", fill) + strings.Repeat(" ", room-fill) + "]" + tails[i]
		}
		if r := []rune(line); len(r) > max(width-1, 1) {
			line = string(append(r[:max(width-1, 1)-1], '…'))
		}
		lines[i] = line
	}
	return lines
}

// progressLogLine is the line logged every period when stderr is not a
// terminal.
func progressLogLine(v progressView) string {
	done := 0
	for _, s := range v.Shards {
		if s.Done {
			done++
		}
	}
	return fmt.Sprintf("replay: %s of the range, %s records, %s records/s, ETA %s, %d of %d shards done, %s elapsed",
		pct(v.Covered), count(v.Records), count(int64(v.Rate)), eta(v.ETA), done, len(v.Shards), v.Elapsed.Round(time.Second))
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

// loader is what the progress uses of the Kinesis source.
type loader interface{ Load() []kinesis.ShardLoad }

// startProgress shows the replay's bars on a terminal stderr (mode on or
// auto), or logs a plain line every logEvery when stderr is not a
// terminal (mode auto); off shows nothing.
func startProgress(mode string, job *pipeline.Job, src pipeline.Source, c *rangeClock, stderr io.Writer) (stop func()) {
	if mode == "off" {
		return func() {}
	}
	var loads func() []kinesis.ShardLoad
	if l, ok := src.(loader); ok {
		loads = l.Load
	} else {
		loads = func() []kinesis.ShardLoad { return nil }
	}
	tty := false
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		tty = true
	}
	if tty || mode == "on" {
		return tickProgress(job.Stats, loads, c, 500*time.Millisecond, func(v progressView, n int) int {
			return drawBars(stderr, progressLines(v, termWidth(stderr)), n)
		})
	}
	return tickProgress(job.Stats, loads, c, 10*time.Second, func(v progressView, _ int) int {
		fmt.Fprintln(stderr, progressLogLine(v))
		return 0
	})
}

// drawBars rewrites the prev lines last drawn with lines.
func drawBars(w io.Writer, lines []string, prev int) int {
	var b strings.Builder
	if prev > 0 {
		fmt.Fprintf(&b, "\033[%dA", prev)
	}
	for _, l := range lines {
		b.WriteString("\r\033[K" + l + "\n")
	}
	io.WriteString(w, b.String()) //nolint:errcheck // best effort on stderr
	return len(lines)
}

// tickProgress calls show with a fresh view every tick until stop, and once
// more at stop.
func tickProgress(stats func() pipeline.Stats, loads func() []kinesis.ShardLoad, c *rangeClock, every time.Duration, show func(progressView, int) int) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		tick := time.NewTicker(every)
		defer tick.Stop()
		var last pipeline.Stats
		lastAt, drawn := start, 0
		for {
			var now time.Time
			final := false
			select {
			case <-done:
				now, final = time.Now(), true
			case now = <-tick.C:
			}
			st := stats()
			rate := float64(st.RecordsIn-last.RecordsIn) / max(now.Sub(lastAt).Seconds(), 1e-9)
			if final { // the last draw shows the replay's mean rate
				rate = float64(st.RecordsIn) / max(now.Sub(start).Seconds(), 1e-9)
			}
			drawn = show(buildView(st, loads(), c, rate, now.Sub(start)), drawn)
			last, lastAt = st, now
			select {
			case <-done:
				return
			default:
			}
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
