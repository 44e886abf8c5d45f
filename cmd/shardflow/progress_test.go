package main

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardflow/shardflow/pipeline"
)

var (
	t0       = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	threeIDs = []string{"shardId-000000000000", "shardId-000000000001", "shardId-000000000002"}
)

// kinesisView is three shards 10 s into a replay of t0..t0+100s: the first
// done, the others at 50% and 20% of the range.
func kinesisView() progressView {
	st := pipeline.Stats{RecordsIn: 3000, Shards: []pipeline.ShardProgress{
		{Shard: threeIDs[0], Records: 1000, Finished: true},
		{Shard: threeIDs[1], Records: 1500},
		{Shard: threeIDs[2], Records: 500},
	}}
	prev := pipeline.Stats{RecordsIn: 2000, Shards: []pipeline.ShardProgress{
		{Shard: threeIDs[0], Records: 1000}, {Shard: threeIDs[1], Records: 1000}, {Shard: threeIDs[2], Records: 0},
	}}
	reads := map[string]shardRead{ // the first shard's reader closed: its last reads
		threeIDs[0]: {Until: t0.Add(100 * time.Second), Bytes: 1 << 20},
		threeIDs[1]: {Until: t0.Add(50 * time.Second), Bytes: 3 << 20},
		threeIDs[2]: {Until: t0.Add(20 * time.Second), Bytes: 1 << 19},
	}
	return buildView(st, prev, time.Second, reads, &rangeClock{from: t0, to: t0.Add(100 * time.Second)}, 10*time.Second)
}

func TestBuildView(t *testing.T) {
	v := kinesisView()
	// (1 + 0.5 + 0.2) / 3 = 0.5667 covered in 10s: 7.6s to go.
	if v.ETA != 8*time.Second || fmt.Sprintf("%.4f", v.Covered) != "0.5667" {
		t.Fatalf("covered %.4f ETA %s, want 0.5667 and 8s", v.Covered, v.ETA)
	}
	if v.Records != 3000 || v.Bytes != 4<<20+1<<19 || v.Rate != 1000 || v.Done != 1 || v.Of != "the range" {
		t.Fatalf("total = %+v", v)
	}
	want := []shardBar{
		{Shard: threeIDs[0], Records: 1000, Bytes: 1 << 20, Covered: 1, Rate: 0, ETA: 0, Done: true},
		{Shard: threeIDs[1], Records: 1500, Bytes: 3 << 20, Covered: 0.5, Rate: 500, ETA: 10 * time.Second},
		{Shard: threeIDs[2], Records: 500, Bytes: 1 << 19, Covered: 0.2, Rate: 500, ETA: 40 * time.Second},
	}
	if fmt.Sprint(v.Shards) != fmt.Sprint(want) {
		t.Fatalf("shards\n%v\nwant\n%v", v.Shards, want)
	}

	// A shard not yet placed in the range: the total's share is unknown.
	st := pipeline.Stats{RecordsIn: 10, Shards: []pipeline.ShardProgress{{Shard: threeIDs[0], Records: 10}, {Shard: threeIDs[1]}}}
	u := buildView(st, pipeline.Stats{}, time.Second, map[string]shardRead{threeIDs[0]: {Until: t0.Add(time.Second)}},
		&rangeClock{from: t0, to: t0.Add(4 * time.Second)}, time.Second)
	if u.Covered != -1 || u.ETA != -1 || u.Shards[0].Covered != 0.25 || u.Shards[1].Covered != -1 || u.Shards[0].ETA != 3*time.Second {
		t.Fatalf("unknown = %+v", u)
	}
}

// Of an archive the shares are of bytes: each object's of its size, the
// total's of every object's, those not opened yet included.
func TestBuildViewArchive(t *testing.T) {
	st := pipeline.Stats{RecordsIn: 300, Shards: []pipeline.ShardProgress{
		{Shard: "a/1.gz", Records: 200, Finished: true},
		{Shard: "a/2", Records: 100},
	}}
	reads := map[string]shardRead{
		"a/1.gz": {Bytes: 900, Size: 1000}, // done: counts as all of it
		"a/2":    {Bytes: 500, Size: 2000},
		"a/3":    {Size: 1000}, // not opened yet
	}
	v := buildView(st, pipeline.Stats{}, 5*time.Second, reads, nil, 5*time.Second)
	if v.Of != "the archive" || v.Covered != 0.375 || v.ETA != 8*time.Second || v.Bytes != 1400 || v.Done != 1 {
		t.Fatalf("total = %+v", v)
	}
	var got []string
	for _, s := range v.Shards {
		got = append(got, fmt.Sprintf("%s %.2f", s.Shard, s.Covered))
	}
	if strings.Join(got, ", ") != "a/1.gz 1.00, a/2 0.25, a/3 0.00" {
		t.Fatalf("shards %v", got)
	}
}

func TestProgressLogLine(t *testing.T) {
	v := progressView{Of: "the range", Records: 12345, Bytes: 5 << 19, Rate: 2000.4, Covered: 0.25, ETA: 30 * time.Second,
		Elapsed: 10 * time.Second, Done: 1, Shards: []shardBar{{Done: true}, {}}}
	want := "replay:  25% of the range, 12,345 records, 2.5 MiB, 2,000 records/s, ETA 30s, 1 of 2 shards done, 10s elapsed"
	if got := progressLogLine(v); got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestRangeClockTrimHorizon(t *testing.T) {
	c := &rangeClock{to: t0.Add(40 * time.Second)}
	if got := c.share("a", t0); got != 0 {
		t.Fatalf("first sight = %v, want 0", got)
	}
	if got := c.share("a", t0.Add(10*time.Second)); got != 0.25 {
		t.Fatalf("share = %v, want 0.25", got)
	}
	if got := c.share("a", time.Time{}); got != -1 {
		t.Fatalf("no arrival yet = %v, want -1", got)
	}
}

// frames records each frame mpb writes (one Write per frame).
type frames struct {
	mu  sync.Mutex
	all []string
	ch  chan struct{}
}

func newFrames() *frames { return &frames{ch: make(chan struct{}, 1000)} }

func (f *frames) Write(p []byte) (int, error) {
	f.mu.Lock()
	f.all = append(f.all, string(p))
	f.mu.Unlock()
	f.ch <- struct{}{}
	return len(p), nil
}

// next waits for the next frame and returns its lines.
func (f *frames) next(t *testing.T) []string {
	t.Helper()
	select {
	case <-f.ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no frame drawn in 10s")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Split(strings.TrimSuffix(f.all[len(f.all)-1], "\n"), "\n")
}

func (f *frames) last() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Split(strings.TrimSuffix(f.all[len(f.all)-1], "\n"), "\n")
}

// squeeze is l with its runs of spaces as one, and none at the end.
func squeeze(l string) string { return strings.Join(strings.Fields(l), " ") }

var barRE = regexp.MustCompile(`\[([=> ]*)\]`)

// fill is the share of a line's bar that is filled.
func fill(t *testing.T, line string) float64 {
	t.Helper()
	m := barRE.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no bar in %q", line)
	}
	return float64(len(strings.TrimRight(m[1], " "))) / float64(len(m[1]))
}

// The bars, drawn by mpb into a buffer 100 columns wide: a line per shard
// in shard order, then the total, each with its share, records, bytes,
// rate and ETA, the columns lined up; a shard's bar completes when it is
// done, and the last frame shows every bar full.
func TestProgressBars(t *testing.T) {
	out := newFrames()
	b := newBars(out, 100, false)
	v := kinesisView()
	v.Shards[0].Done = false // nothing done yet in the first frame
	v.Shards[0].Covered, v.Shards[0].ETA = 0.9, time.Second
	v.Done = 0
	b.show(v)
	lines := out.next(t)
	t.Logf("frame:\n%s", strings.Join(lines, "\n"))
	wantStart := []string{"000000000000 [", "000000000001 [", "000000000002 [", "total        ["}
	if len(lines) != len(wantStart) {
		t.Fatalf("frame:\n%s", strings.Join(lines, "\n"))
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, wantStart[i]) {
			t.Errorf("line %d = %q, want it to start %q", i, l, wantStart[i])
		}
		if n := len([]rune(l)); n > 100 {
			t.Errorf("%q is %d wide, over 100", l, n)
		}
	}
	for i, want := range []string{
		"] 90% 1,000 rec 1.0 MiB 0 rec/s ETA 1s",
		"] 50% 1,500 rec 3.0 MiB 500 rec/s ETA 10s",
		"] 20% 500 rec 0.5 MiB 500 rec/s ETA 40s",
		"] 57% 3,000 rec 4.5 MiB 1,000 rec/s ETA 8s, 0/3 done",
	} {
		if got := squeeze(lines[i]); !strings.HasSuffix(got, want) {
			t.Errorf("line %d = %q, want it to end %q", i, lines[i], want)
		}
	}
	// The columns line up, the bars are one length and filled as far as
	// the shares go.
	for _, col := range []string{"%", " rec ", " MiB ", "rec/s"} {
		at := strings.Index(lines[0], col)
		for i, l := range lines {
			if strings.Index(l, col) != at {
				t.Errorf("%q of line %d not under line 0's:\n%s", col, i, strings.Join(lines, "\n"))
			}
		}
	}
	for i, want := range []float64{0.9, 0.5, 0.2, 0.57} {
		if got := fill(t, lines[i]); got < want-0.05 || got > want+0.05 {
			t.Errorf("line %d filled %.2f, want %.2f: %q", i, got, want, lines[i])
		}
	}
	if strings.Index(lines[0], "]") != strings.Index(lines[3], "]") {
		t.Errorf("bars of different lengths:\n%s", strings.Join(lines, "\n"))
	}

	// The first shard is done: its bar completes, full, and says so.
	b.show(kinesisView())
	lines = out.next(t)
	if !b.shards[threeIDs[0]].Completed() || b.shards[threeIDs[1]].Completed() || b.total.Completed() {
		t.Fatal("only the first shard's bar should be complete")
	}
	if fill(t, lines[0]) != 1 || !strings.HasSuffix(squeeze(lines[0]), "] 100% 1,000 rec 1.0 MiB 0 rec/s done") {
		t.Errorf("done shard: %q", lines[0])
	}
	if !strings.Contains(lines[3], "ETA 8s, 1/3 done") {
		t.Errorf("total: %q", lines[3])
	}

	// The replay ends: every bar complete and full, the total at 100%.
	end := kinesisView()
	for i := range end.Shards {
		end.Shards[i].Done, end.Shards[i].Covered, end.Shards[i].ETA = true, 1, 0
	}
	end.Covered, end.ETA, end.Done = 1, 0, 3
	b.stop(end)
	lines = out.last()
	for i, l := range lines {
		if fill(t, l) != 1 || !strings.Contains(l, "100%") {
			t.Errorf("last frame line %d not full: %q", i, l)
		}
	}
	if !strings.HasSuffix(squeeze(lines[3]), "ETA 0s, 3/3 done") {
		t.Errorf("last total: %q", lines[3])
	}
	for id, bar := range b.shards {
		if !bar.Completed() {
			t.Errorf("%s: bar not complete", id)
		}
	}
}

// A replay stopped before the end (a signal, an error) leaves the bars of
// the shards not done where they were, and the drawing ends.
func TestProgressBarsStopEarly(t *testing.T) {
	out := newFrames()
	b := newBars(out, 100, false)
	b.show(kinesisView())
	out.next(t)
	b.stop(kinesisView()) // returns: no bar is left running
	lines := out.last()
	if len(lines) != 4 || !strings.Contains(squeeze(lines[1]), "] 50% 1,500 rec") || !strings.HasSuffix(squeeze(lines[3]), "ETA 8s, 1/3 done") {
		t.Fatalf("last frame:\n%s", strings.Join(lines, "\n"))
	}
	if b.shards[threeIDs[1]].Completed() || !b.shards[threeIDs[1]].Aborted() || b.total.Completed() {
		t.Fatal("shards not done should stop, not complete")
	}
}

// With more shards than maxShardBars, at most that many bars are drawn,
// and a done shard's bar makes room for the next shard's.
func TestProgressBarsMany(t *testing.T) {
	out := newFrames()
	b := newBars(out, 120, false)
	view := func(done int) progressView {
		var st pipeline.Stats
		reads := map[string]shardRead{}
		for i := range maxShardBars + 4 {
			id := fmt.Sprintf("arch/obj-%02d", i)
			st.Shards = append(st.Shards, pipeline.ShardProgress{Shard: id, Records: 10, Finished: i < done})
			st.RecordsIn += 10
			reads[id] = shardRead{Bytes: 50, Size: 100}
		}
		return buildView(st, pipeline.Stats{}, time.Second, reads, nil, time.Second)
	}
	b.show(view(0))
	lines := out.next(t)
	if len(lines) != maxShardBars+1 || !strings.HasPrefix(lines[0], "obj-00 ") || !strings.HasPrefix(lines[maxShardBars-1], fmt.Sprintf("obj-%02d ", maxShardBars-1)) {
		t.Fatalf("frame of %d lines:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	b.show(view(2)) // two done: their bars show it once more, then go
	lines = out.next(t)
	if len(lines) != maxShardBars+3 || !strings.HasSuffix(squeeze(lines[1]), " done") {
		t.Fatalf("frame of %d lines:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	b.show(view(2)) // and two more shards have a bar
	lines = out.next(t)
	if len(lines) != maxShardBars+1 || !strings.HasPrefix(lines[0], "obj-02 ") || !strings.HasPrefix(lines[maxShardBars-1], fmt.Sprintf("obj-%02d ", maxShardBars+1)) {
		t.Fatalf("frame of %d lines:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	if !strings.Contains(lines[maxShardBars], fmt.Sprintf("2/%d done", maxShardBars+4)) {
		t.Errorf("total: %q", lines[maxShardBars])
	}
	b.stop(view(maxShardBars + 4))
}

// A replay of an archive shows its progress by each object's bytes: the
// bars with --status on (here into a pipe, as on a terminal), the log line
// with --status auto off a terminal; both end with every object read.
func TestReplayArchiveProgress(t *testing.T) {
	bin := buildBinary(t)
	arch := writeArchive(t, archiveObjects(t, writeInput(t, 2, 3000)))
	src := "file://" + arch + "/*/*/*/*/*"
	withStatus := func(dir, mode string) []string {
		args := replayArgs(dir, src)
		for i := range args {
			if args[i] == "--status" {
				args[i+1] = mode
			}
		}
		return args
	}

	code, out := runBinary(t, bin, withStatus(t.TempDir(), "on")...)
	if code != 0 {
		t.Fatalf("replay: exit %d\n%s", code, out)
	}
	frames := strings.Split(out, "\x1b[J")
	var last []string
	for _, l := range strings.Split(frames[len(frames)-1], "\n") {
		if last = append(last, squeeze(l)); strings.HasPrefix(l, "total") {
			break
		}
	}
	if len(last) != 3 {
		t.Fatalf("%d frames, the last of %d bars:\n%s", len(frames), len(last), out)
	}
	for i, name := range []string{"events-0.jsonl.gz", "events-1.jsonl"} {
		if !strings.HasPrefix(last[i], name+" [") || !strings.Contains(last[i], "] 100% 3,000 rec") || !strings.HasSuffix(last[i], " done") {
			t.Errorf("last frame, bar %d: %q", i, last[i])
		}
	}
	if !strings.HasPrefix(last[2], "total [") || !strings.Contains(last[2], "] 100% 6,000 rec") || !strings.HasSuffix(last[2], "ETA 0s, 2/2 done") {
		t.Errorf("last frame, total: %q", last[2])
	}

	code, out = runBinary(t, bin, withStatus(t.TempDir(), "auto")...)
	if code != 0 {
		t.Fatalf("replay: exit %d\n%s", code, out)
	}
	if !regexp.MustCompile(`replay: 100% of the archive, 6,000 records, [0-9.]+ MiB, [0-9,]+ records/s, ETA 0s, 2 of 2 shards done`).MatchString(out) {
		t.Fatalf("no final log line:\n%s", out)
	}
}

// failingWriter fails every write, as a closed terminal would.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) {
	return 0, fmt.Errorf("write /dev/pts/9: input/output error")
}

// When a frame cannot be written mpb shuts down; the bars then draw
// nothing more, and neither show nor stop blocks (the replay goes on and
// ends) or panics.
func TestProgressBarsAfterAFailedWrite(t *testing.T) {
	b := newBars(failingWriter{}, 100, true)
	done := make(chan struct{})
	go func() {
		defer close(done)
		v := kinesisView()
		for range 3 {
			b.show(v)
		}
		v.Shards = append(v.Shards, shardBar{Shard: "shardId-000000000003"}) // a bar added after the shutdown
		b.show(v)
		b.stop(v)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("show or stop still blocked after 10s")
	}
	if b.p.Error == nil {
		t.Fatal("mpb reported no write error: the test did not test")
	}
}
