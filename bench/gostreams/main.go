// Command gostreams runs shardflow and github.com/reugn/go-streams on the same
// clickstream events and the same windowed aggregation in one process, and
// prints both rates per CPU-second and their ratio. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/internal/cputime"
	"github.com/shardflow/shardflow/sources/generator"
)

// options are the command's flags.
type options struct {
	events   int64
	shards   int
	batch    int
	seed     int64
	reps     int
	distinct bool
	modes    string
	gs       gsConfig
}

func main() {
	var o options
	flag.Int64Var(&o.events, "events", 1_000_000, "events across all shards")
	flag.IntVar(&o.shards, "shards", 4, "generator shards (shardflow reads each in a goroutine of its own)")
	flag.IntVar(&o.batch, "batch", 1000, "records per source batch")
	flag.Int64Var(&o.seed, "seed", 1, "generator seed")
	flag.IntVar(&o.reps, "reps", 5, "repetitions per engine and mode; medians are printed")
	flag.BoolVar(&o.distinct, "distinct", true, "also count exact distinct user_id per (window, page)")
	flag.StringVar(&o.modes, "modes", "decoded,json", "modes to run, comma-separated: decoded, json")
	flag.DurationVar(&o.gs.window, "gs-window", 100*time.Millisecond, "go-streams TumblingWindow size (processing time); 0 for no window flow")
	flag.StringVar(&o.gs.decoder, "gs-json", "goccy/go-json", "go-streams JSON decoder: encoding/json, goccy/go-json or sonic")
	flag.IntVar(&o.gs.parallelism, "gs-parallelism", runtime.GOMAXPROCS(0), "go-streams decoding Map parallelism")
	flag.IntVar(&o.gs.sourceBuffer, "gs-source-buffer", 1024, "go-streams source channel capacity")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, o); err != nil {
		fmt.Fprintln(os.Stderr, "gostreams:", err)
		os.Exit(1)
	}
}

// errDiffer is returned when the engines' results differ.
var errDiffer = errors.New("the results differ")

// run prepares the events, runs every mode and prints the report to w. It
// fails if the two engines ever produce different rows.
func run(ctx context.Context, w io.Writer, o options) error {
	if o.reps < 1 || o.gs.parallelism < 1 || o.gs.sourceBuffer < 0 || o.gs.window < 0 {
		return fmt.Errorf("want reps, gs-parallelism >= 1, gs-window and gs-source-buffer >= 0")
	}
	var modes []string
	for m := range strings.SplitSeq(o.modes, ",") {
		if m = strings.TrimSpace(m); m != "decoded" && m != "json" {
			return fmt.Errorf("unknown mode %q, want decoded or json", m)
		}
		modes = append(modes, strings.TrimSpace(m))
	}
	mem := memory.DefaultAllocator
	d, err := newData(generator.Config{Shards: o.shards, Events: o.events, Seed: o.seed, BatchSize: o.batch}, mem)
	if err != nil {
		return err
	}
	defer d.release()
	aggs := "count"
	if o.distinct {
		aggs += ", exact distinct user_id"
	}
	fmt.Fprintf(w, "shardflow vs github.com/reugn/go-streams %s, one process, same events, same aggregation\n", moduleVersion("github.com/reugn/go-streams"))
	fmt.Fprintf(w, "events %d (generator seed %d, %d shards, batches of %d), GOMAXPROCS %d, reps %d\n",
		d.events, o.seed, d.cfg.Shards, d.cfg.BatchSize, runtime.GOMAXPROCS(0), o.reps)
	fmt.Fprintf(w, "aggregation: per (1-minute tumbling window of ts, page): %s\n", aggs)
	fmt.Fprintf(w, "go-streams: ChanSource(buffer %d) -> %sTumblingWindow(%v, processing time) -> aggregating sink\n",
		o.gs.sourceBuffer, map[bool]string{true: fmt.Sprintf("[json: Map(%s, parallelism %d)] -> ", o.gs.decoder, o.gs.parallelism)}[slices.Contains(modes, "json")], o.gs.window)
	fmt.Fprintf(w, "loadavg before: %s\n", loadavg())
	for _, mode := range modes {
		if err := runMode(ctx, w, o, d, mode, mem); err != nil {
			return fmt.Errorf("mode %s: %w", mode, err)
		}
	}
	fmt.Fprintf(w, "loadavg after: %s\n", loadavg())
	return nil
}

// sample is one timed run.
type sample struct {
	wall, cpu time.Duration
	gcs       uint32 // garbage collections during the run
}

func runMode(ctx context.Context, w io.Writer, o options, d *data, mode string, mem memory.Allocator) error {
	decoded := mode == "decoded"
	var items []any
	var err error
	if decoded {
		if err = d.decode(mem); err != nil {
			return err
		}
		if items, err = d.eventItems(); err != nil {
			return err
		}
	} else {
		items = d.lineItems()
	}
	var want result
	var sf, gs []sample
	timed := func(f func() (result, error)) (result, sample, error) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		gc0, w0, c0 := ms.NumGC, time.Now(), cputime.Process()
		res, err := f()
		wall, cpu := time.Since(w0), cputime.Process()-c0
		runtime.ReadMemStats(&ms)
		return res, sample{wall, cpu, ms.NumGC - gc0}, err
	}
	runSF := func() error {
		res, s, err := timed(func() (result, error) { return runShardflow(ctx, d, decoded, o.distinct, mem) })
		if err != nil {
			return err
		}
		if want == nil {
			want = res
		} else if df := diff(want, res); df != "" {
			return fmt.Errorf("%w: shardflow changed between repetitions:\n%s", errDiffer, df)
		}
		sf = append(sf, s)
		return nil
	}
	runGS := func() error {
		res, s, err := timed(func() (result, error) { return runGoStreams(items, !decoded, o.distinct, o.gs) })
		if err != nil {
			return err
		}
		gs = append(gs, s)
		if want != nil {
			if df := diff(want, res); df != "" {
				return fmt.Errorf("%w (%d and %d rows):\n%s", errDiffer, len(want), len(res), df)
			}
		}
		return nil
	}
	for rep := range o.reps {
		// Alternate which engine goes first, so neither always inherits the
		// other's garbage.
		first, second := runSF, runGS
		if rep%2 == 1 {
			first, second = runGS, runSF
		}
		if err := first(); err != nil {
			return err
		}
		if err := second(); err != nil {
			return err
		}
	}
	if want == nil {
		return errors.New("no shardflow result")
	}
	n := float64(d.events)
	sfCPU, gsCPU := median(sf, cpuRate(n)), median(gs, cpuRate(n))
	sfWall, gsWall := median(sf, wallRate(n)), median(gs, wallRate(n))
	from := "decoded data (go-streams: *Event structs; shardflow: decoded Arrow batches)"
	if !decoded {
		from = "JSON lines (both decode the same bytes)"
	}
	fmt.Fprintf(w, "\nmode %s: from %s\n", mode, from)
	fmt.Fprintf(w, "  results equal: %d rows (window, page), %d events\n", len(want), sum(want))
	fmt.Fprintf(w, "  shardflow   %8.2f M events/CPU-s   %8.2f M events/s wall   (medians of %d)\n", sfCPU/1e6, sfWall/1e6, len(sf))
	fmt.Fprintf(w, "  go-streams  %8.2f M events/CPU-s   %8.2f M events/s wall\n", gsCPU/1e6, gsWall/1e6)
	fmt.Fprintf(w, "  ratio       %8.1fx per CPU-second   %8.1fx wall\n", sfCPU/gsCPU, sfWall/gsWall)
	fmt.Fprintf(w, "  CPU-s per run: shardflow %s; go-streams %s\n", cpuList(sf), cpuList(gs))
	fmt.Fprintf(w, "  GCs per run:   shardflow %s; go-streams %s\n", gcList(sf), gcList(gs))
	return nil
}

func cpuRate(n float64) func(sample) float64 {
	return func(s sample) float64 { return n / max(s.cpu, time.Microsecond).Seconds() }
}

func wallRate(n float64) func(sample) float64 {
	return func(s sample) float64 { return n / max(s.wall, time.Microsecond).Seconds() }
}

// median is the median of f over the samples.
func median(ss []sample, f func(sample) float64) float64 {
	v := make([]float64, len(ss))
	for i, s := range ss {
		v[i] = f(s)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func cpuList(ss []sample) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = fmt.Sprintf("%.3f", s.cpu.Seconds())
	}
	return strings.Join(parts, " ")
}

func gcList(ss []sample) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = fmt.Sprint(s.gcs)
	}
	return strings.Join(parts, " ")
}

func sum(r result) int64 {
	var n int64
	for _, v := range r {
		n += v.events
	}
	return n
}

// loadavg is the content of /proc/loadavg, or why it is missing.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return strings.TrimSpace(string(b))
}

// moduleVersion is the version of module path built into the binary.
func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == path {
				if m.Replace != nil {
					return m.Version + " => " + m.Replace.Path + " " + m.Replace.Version
				}
				return m.Version
			}
		}
	}
	return "(version unknown)"
}
