package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/shardflow/shardflow/internal/arrowpool"
	"github.com/shardflow/shardflow/jobs"
	"github.com/shardflow/shardflow/metrics"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sinks/featurestore"
	"github.com/shardflow/shardflow/sinks/featurestore/stores"
	"github.com/shardflow/shardflow/sources/kinesis"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

type runFlags struct {
	source      string
	out         string
	checkpoints string
	features    string // the online feature store of a job with a feature view
	featuresSet bool   // --features was given
	interval    time.Duration
	events      int64
	shards      int
	rate        float64
	seed        int64
	badEvery    int64
	logLevel    string
	status      string
	start       string // kinesis: where a shard without a checkpoint starts
	metricsAddr string
	overwrite   bool
	parallelism int
	follow      bool // file: keep reading the files as they grow, and new files
	// kinesis: go on past records that expired unread instead of failing,
	// and how close to expiring a shard's reading may fall before a warning
	acceptExpired   bool
	retentionMargin time.Duration
	// replay runs the job as a replay (pipeline.WithReplay): its run id
	// comes from the job and what the source reads.
	replay bool
	// replayStep, when set, cuts a replay's checkpoints by its records'
	// arrival times, every replayStep (pipeline.WithReplayStep).
	replayStep time.Duration
	// progress, when set, shows the job's progress instead of the status
	// line (replay's bars).
	progress func(job *pipeline.Job, src pipeline.Source, stderr io.Writer) (stop func())

	state stateFlags // --state-limit, --state-spill (state.go)
}

func newRunCmd() *cobra.Command {
	f := runFlags{}
	cmd := &cobra.Command{
		Use:   "run JOB",
		Short: "Run a job until its bounded input is done, or until SIGINT/SIGTERM (then it takes a final checkpoint)",
		Long: `Run a ready-made job (see 'shardflow jobs'). It resumes from its latest checkpoint.

On a bounded source (the generator with --events > 0, files) the job drains every
window at the end, commits and exits 0; run again, it finds nothing new to do.
SIGINT or SIGTERM take a final checkpoint and exit 0; a second signal aborts.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.validate(cmd); err != nil {
				return err
			}
			f.featuresSet = cmd.Flags().Changed("features")
			return runJob(cmd.Context(), args[0], f, jobs.SourceOptions{Kinesis: kinesis.Config{Start: f.start}, Follow: f.follow}, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	addJobFlags(cmd, &f, filepath.Join("shardflow-data"), "generator", "where to read: generator | file://GLOB[?follow=1] | kinesis://STREAM[?consumer=NAME]")
	addGeneratorFlags(cmd, &f)
	cmd.Flags().BoolVar(&f.follow, "follow", false, "file: keep watching the glob for new lines and new files (as file://GLOB?follow=1); the job then runs until SIGINT/SIGTERM")
	cmd.Flags().StringVar(&f.start, "start", kinesis.StartTrimHorizon, "kinesis: where a shard without a checkpoint starts: latest | trim_horizon | at_timestamp:RFC3339 (a checkpoint wins)")
	return cmd
}

// addJobFlags registers the flags that run and replay share; data is the
// default root of the output and checkpoint directories.
func addJobFlags(cmd *cobra.Command, f *runFlags, data, source, sourceUsage string) {
	fl := cmd.Flags()
	fl.StringVar(&f.source, "source", source, sourceUsage)
	fl.StringVar(&f.out, "out", filepath.Join(data, "out"), "output directory or s3://BUCKET/PREFIX (Parquet tables, dead_letter/)")
	fl.StringVar(&f.checkpoints, "checkpoints", filepath.Join(data, "checkpoints"), "checkpoint directory")
	fl.StringVar(&f.features, "features", stores.Default, "online feature store of a job with features: sqlite://PATH | redis://HOST:PORT/DB | dynamodb://TABLE; ?layout=feast&project=NAME for Feast's layout (README: Feast layout)")
	fl.DurationVar(&f.interval, "checkpoint-interval", 10*time.Second, "time between checkpoints")
	fl.StringVar(&f.logLevel, "log-level", "warn", "debug | info | warn | error")
	fl.StringVar(&f.status, "status", "auto", "live status line: auto (on a terminal) | on | off")
	fl.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on this address (e.g. 127.0.0.1:9464); empty: off")
	fl.IntVar(&f.parallelism, "parallelism", runtime.GOMAXPROCS(0), "instances of the window stage side by side, each with its partition of the keys (a checkpoint resumes with any)")
	fl.BoolVar(&f.acceptExpired, "accept-expired", false, "kinesis: when a shard's checkpointed record has expired from the stream, go on from the oldest retained record (the records between are lost) instead of failing")
	fl.DurationVar(&f.retentionMargin, "retention-margin", kinesis.DefaultRetentionMargin, "kinesis: warn (and report kinesis_retention_headroom_seconds) when a shard is read less than this before its records expire")
	addStateFlags(fl, &f.state)
	fl.BoolVar(&f.overwrite, "overwrite", false, "replace output of this job that its checkpoints do not account for (another run's, a lost checkpoint's) instead of refusing to start")
}

// generatorFlags are the flags of the generator source, which only run has.
var generatorFlags = []string{"events", "shards", "rate", "seed", "bad-every"}

func addGeneratorFlags(cmd *cobra.Command, f *runFlags) {
	gen := jobs.DefaultGenerator()
	fl := cmd.Flags()
	fl.Int64Var(&f.events, "events", gen.Events, "generator: events in all (0: unbounded)")
	fl.IntVar(&f.shards, "shards", gen.Shards, "generator: shards")
	fl.Float64Var(&f.rate, "rate", 0, "generator: events per second (0: as fast as possible)")
	fl.Int64Var(&f.seed, "seed", gen.Seed, "generator: seed")
	fl.Int64Var(&f.badEvery, "bad-every", gen.BadEvery, "generator: every Nth record of a shard is malformed (0: none)")
}

// validate checks the flags of cmd (run or replay) before any work: values,
// and flags set explicitly for a source they do not apply to. The error is
// one line.
func (f runFlags) validate(cmd *cobra.Command) error {
	fl := cmd.Flags()
	var errs []string
	add := func(err error) {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	kind, err := jobs.SourceKind(f.source)
	add(err)
	if f.interval <= 0 {
		add(fmt.Errorf("--checkpoint-interval %v: want > 0", f.interval))
	}
	if f.parallelism <= 0 {
		add(fmt.Errorf("--parallelism %d: want > 0", f.parallelism))
	}
	add(f.state.validate())
	if jobs.IsS3(f.out) {
		add(jobs.CheckOut(f.out))
	} else {
		add(localDir("out", f.out))
	}
	add(localDir("checkpoints", f.checkpoints))
	if _, err := featurestore.ParseURL(f.features); err != nil {
		add(fmt.Errorf("--features: %w", err))
	}
	switch f.status {
	case "auto", "on", "off":
	default:
		add(fmt.Errorf("--status %q: want auto, on or off", f.status))
	}
	if _, err := parseLevel(f.logLevel); err != nil {
		add(err)
	}
	if fl.Lookup("start") != nil {
		add(checkStart(f.start))
		if fl.Changed("start") && kind != "" && kind != jobs.SourceKinesis {
			add(fmt.Errorf("--start applies only to kinesis:// sources, not to --source %s", f.source))
		}
	}
	if f.retentionMargin <= 0 {
		add(fmt.Errorf("--retention-margin %v: want > 0", f.retentionMargin))
	}
	for _, name := range []string{"accept-expired", "retention-margin"} {
		if fl.Changed(name) && kind != "" && kind != jobs.SourceKinesis {
			add(fmt.Errorf("--%s applies only to kinesis:// sources, not to --source %s", name, f.source))
		}
	}
	if fl.Lookup("follow") != nil && f.follow && kind != "" && kind != jobs.SourceFile {
		add(fmt.Errorf("--follow applies only to file:// sources, not to --source %s", f.source))
	}
	if fl.Lookup("events") != nil {
		if f.events < 0 || f.shards <= 0 || f.rate < 0 || f.badEvery < 0 {
			add(fmt.Errorf("--events, --rate and --bad-every want >= 0, --shards > 0"))
		}
		var set []string
		for _, name := range generatorFlags {
			if fl.Changed(name) {
				set = append(set, "--"+name)
			}
		}
		if len(set) > 0 && kind != "" && kind != jobs.SourceGenerator {
			add(fmt.Errorf("%s: generator flags apply only to --source generator, not to %s", strings.Join(set, ", "), f.source))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(errs, "; "))
}

// checkStart checks a --start value as the Kinesis source reads
// Config.Start, so that a typo fails before any work, whatever the source.
func checkStart(s string) error {
	if s == "" || kinesis.ValidateStart(s) != nil {
		return fmt.Errorf("--start %q: want latest, trim_horizon or at_timestamp:RFC3339 (e.g. at_timestamp:2026-11-30T10:00:00Z)", s)
	}
	return nil
}

// urlScheme matches the scheme of a URL ("s3://", "dynamodb://").
var urlScheme = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*)://`)

// localDir checks the value of a flag that takes a local directory: a URL
// would otherwise become a directory named after its scheme ("s3:").
func localDir(flag, dir string) error {
	if dir == "" {
		return fmt.Errorf("--%s wants a directory", flag)
	}
	if m := urlScheme.FindStringSubmatch(dir); m != nil {
		return fmt.Errorf("--%s %s: %s:// is not supported yet; --%s takes a local directory", flag, dir, m[1], flag)
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// runJob runs the job called name. The source's batches and the job's come
// from srcOpts.Mem, a fresh arrowpool.Pool when it is nil (tests pass
// another allocator to compare).
func runJob(ctx context.Context, name string, f runFlags, srcOpts jobs.SourceOptions, stdout, stderr io.Writer) error {
	def, err := jobs.Lookup(name)
	if err != nil {
		return err
	}
	if def.View == nil && f.featuresSet {
		return fmt.Errorf("--features: job %s keeps no online features; the jobs that do: %s", def.Name, strings.Join(featureJobs(), ", "))
	}
	level, _ := parseLevel(f.logLevel)
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	ctx, abort := context.WithCancel(ctx)
	defer abort()
	// One pool for the run: the source's batches and the job's recycle
	// each other's buffers instead of leaving each one to the collector.
	if srcOpts.Mem == nil {
		pool, err := arrowpool.New(arrowpool.Config{})
		if err != nil {
			return err
		}
		srcOpts.Mem = pool
	}
	opts := []pipeline.Option{pipeline.WithAllocator(srcOpts.Mem), pipeline.WithParallelism(f.parallelism)}
	opts = append(opts, f.state.options()...)
	if f.overwrite {
		opts = append(opts, pipeline.WithOverwrite())
	}
	if f.replay {
		opts = append(opts, pipeline.WithReplay())
		if f.replayStep > 0 {
			opts = append(opts, pipeline.WithReplayStep(f.replayStep))
		}
	}
	if f.metricsAddr != "" {
		m, stop, err := serveMetrics(ctx, f.metricsAddr, def.Name)
		if err != nil {
			return err
		}
		defer stop()
		srcOpts.Kinesis.Metrics = m
		opts = append(opts, pipeline.WithMetrics(m))
	}
	srcOpts.Generator = jobs.DefaultGenerator()
	gen := &srcOpts.Generator
	gen.Events, gen.Shards, gen.Rate, gen.Seed, gen.BadEvery = f.events, f.shards, f.rate, f.seed, f.badEvery
	srcOpts.Kinesis.Logger = logger
	srcOpts.Kinesis.AcceptExpired, srcOpts.Kinesis.RetentionMargin = f.acceptExpired, f.retentionMargin
	openCtx, cancelOpen := context.WithTimeout(ctx, 30*time.Second)
	src, err := jobs.OpenSource(openCtx, f.source, srcOpts)
	cancelOpen()
	if err != nil {
		return err
	}
	job, err := def.Build(jobs.Env{
		Source:             src,
		OutDir:             f.out,
		CheckpointDir:      f.checkpoints,
		Features:           f.features,
		CheckpointInterval: f.interval,
		Logger:             logger,
		Options:            opts,
	})
	if err != nil {
		return err
	}

	sigs := handleSignals(ctx, job, abort, stderr)
	var stopStatus func()
	if f.progress != nil {
		stopStatus = f.progress(job, src, stderr)
	} else {
		stopStatus = startStatus(f.status, job, stderr)
	}
	err = job.Run(ctx)
	stopStatus()
	if err != nil && sigs.aborted() && errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: aborted by a second signal, without a final checkpoint; %s", def.Name, resumesFrom(job.Stats().LastCheckpoint))
	}
	if err != nil {
		return err
	}
	printSummary(stdout, def, f, job.Stats(), sigs.stopped())
	return nil
}

// serveMetrics binds addr now (a bad address fails before any work) and serves
// the job's Prometheus metrics there until stop is called or ctx ends.
func serveMetrics(ctx context.Context, addr, job string) (m *metrics.Metrics, stop func(), err error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if m, err = metrics.New(reg, job); err != nil {
		return nil, nil, err
	}
	ln, err := metrics.Listen(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = metrics.Serve(ctx, ln, reg) // returns nil once ctx ends
	}()
	return m, func() { cancel(); <-done }, nil
}

// handleSignals turns the first SIGINT or SIGTERM into a graceful Shutdown
// (final checkpoint) and a second one into an abort.
func handleSignals(ctx context.Context, job stoppable, abort context.CancelFunc, stderr io.Writer) *signals {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	return watchSignals(ctx, sigs, func() { signal.Stop(sigs) }, job, abort, stderr)
}

// stoppable is what the signal handler uses of a job.
type stoppable interface {
	Shutdown(context.Context) error
	Stats() pipeline.Stats
}

// signals tells what the signals did to a job.
type signals struct {
	got, abort chan struct{}
}

// watchSignals is handleSignals on a channel of signals; stop is called once
// no more signals are wanted.
func watchSignals(ctx context.Context, sigs <-chan os.Signal, stop func(), job stoppable, abort context.CancelFunc, stderr io.Writer) *signals {
	s := &signals{got: make(chan struct{}), abort: make(chan struct{})}
	go func() {
		defer stop()
		select {
		case sig := <-sigs:
			close(s.got)
			fmt.Fprintf(stderr, "\n%s: taking a final checkpoint (again to abort)\n", sig)
			go job.Shutdown(ctx) //nolint:errcheck // Run reports the outcome
		case <-ctx.Done():
			return
		}
		select {
		case <-sigs:
			close(s.abort)
			fmt.Fprintf(stderr, "\nsecond signal: aborting without a final checkpoint; %s\n", resumesFrom(job.Stats().LastCheckpoint))
			abort()
		case <-ctx.Done():
		}
	}()
	return s
}

// stopped tells whether a signal stopped the job.
func (s *signals) stopped() bool { return closed(s.got) }

// aborted tells whether a second signal aborted the job.
func (s *signals) aborted() bool { return closed(s.abort) }

func closed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// resumesFrom says where the next run starts after checkpoint last.
func resumesFrom(last uint64) string {
	if last == 0 {
		return "the next run starts from the beginning"
	}
	return fmt.Sprintf("the next run resumes from checkpoint %d", last)
}

// startStatus keeps one live status line on stderr while the job runs.
func startStatus(mode string, job *pipeline.Job, stderr io.Writer) (stop func()) {
	if mode == "off" {
		return func() {}
	}
	if mode == "auto" {
		f, ok := stderr.(*os.File)
		if !ok || !term.IsTerminal(int(f.Fd())) {
			return func() {}
		}
	}
	return showStatus(stderr, job.Stats, func() int { return termWidth(stderr) }, 500*time.Millisecond)
}

// showStatus rewrites the status line on w every tick until stop is called.
// It asks width for the terminal's width at each tick, so that a resized
// terminal gets lines that fit.
func showStatus(w io.Writer, stats func() pipeline.Stats, width func() int, every time.Duration) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(every)
		defer tick.Stop()
		var last pipeline.Stats
		lastAt := time.Now()
		for {
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case now := <-tick.C:
				st := stats()
				rate := float64(st.RecordsIn-last.RecordsIn) / now.Sub(lastAt).Seconds()
				fmt.Fprint(w, "\r\033[K"+statusLine(st, rate, width()))
				last, lastAt = st, now
			}
		}
	}()
	return func() { close(done); <-finished }
}

// termWidth is the width in columns of the terminal w writes to, or 80 when
// w is not a terminal or does not say.
func termWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			return cols
		}
	}
	return 80
}

// statusLine renders st in at most width-1 runes: a line as wide as the
// terminal would wrap on some terminals, and \r would then rewrite only its
// second half.
func statusLine(st pipeline.Stats, rate float64, width int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s records %s/s · watermark %s · checkpoint %d ·", count(st.RecordsIn), count(int64(rate)), watermark(st.Watermark), st.LastCheckpoint)
	if len(st.Trouble) > 0 { // an outage first: it is what the line is for while it lasts
		ids := slices.Sorted(maps.Keys(st.Trouble))
		fmt.Fprintf(&b, " %d of %d shards retrying: %s %s ·", len(ids), len(st.Shards), shortShard(ids[0]), st.Trouble[ids[0]])
	}
	for _, s := range st.Shards {
		state := count(s.Records)
		switch {
		case s.Finished:
			state = "done"
		case s.Idle:
			state += " idle"
		}
		fmt.Fprintf(&b, " %s %s", shortShard(s.Shard), state)
	}
	line := []rune(b.String())
	if limit := max(width-1, 1); len(line) > limit {
		line = append(line[:limit-1], '…')
	}
	return string(line)
}

func shortShard(id string) string {
	if i := strings.LastIndexAny(id, "-/"); i >= 0 && i < len(id)-1 {
		return id[i+1:]
	}
	return id
}

func watermark(ms int64) string {
	switch ms {
	case pipeline.MinTime:
		return "-"
	case pipeline.MaxTime:
		return "end"
	}
	return pipeline.Time(ms).Format(time.RFC3339)
}

// count renders n with thousands separators.
func count(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func printSummary(w io.Writer, def jobs.Definition, f runFlags, st pipeline.Stats, signalled bool) {
	elapsed := time.Since(st.Started)
	switch {
	case st.Finished && st.RecordsIn == 0 && st.ResumedFrom > 0:
		fmt.Fprintf(w, "%s: nothing new to do: every shard of %s was read and committed by checkpoint %d (%s)\n",
			def.Name, f.source, st.ResumedFrom, f.checkpoints)
		return
	case st.Finished:
		fmt.Fprintf(w, "%s: done in %s\n", def.Name, elapsed.Round(time.Millisecond))
	case signalled:
		fmt.Fprintf(w, "%s: stopped at checkpoint %d after %s; run again to continue\n", def.Name, st.LastCheckpoint, elapsed.Round(time.Millisecond))
	default:
		fmt.Fprintf(w, "%s: stopped after %s\n", def.Name, elapsed.Round(time.Millisecond))
	}
	rate := float64(st.RecordsIn) / max(elapsed.Seconds(), 1e-9)
	tw := func(k, v string) { fmt.Fprintf(w, "  %-14s %s\n", k, v) }
	tw("records in", fmt.Sprintf("%s (%s records/s)", count(st.RecordsIn), count(int64(rate))))
	tw("rows out", fmt.Sprintf("%s to %s", count(st.RowsOut), strings.Join(tablePaths(def, f.out), ", ")))
	tw("dead letters", fmt.Sprintf("%s in %s", count(st.DeadLetters), jobs.OutPath(f.out, "dead_letter")))
	// The window counters are kept in checkpoints: since the job started.
	sinceStart := func(name, suffix string) string {
		total, before := st.Counters[name], st.CountersAtStart[name]
		if st.ResumedFrom == 0 || before == 0 {
			return count(total) + suffix
		}
		return fmt.Sprintf("%s%s in this run, %s since the job started", count(total-before), suffix, count(total))
	}
	if _, ok := st.Counters["windows_fired"]; ok {
		tw("windows", sinceStart("windows_fired", ""))
	}
	if def.View != nil {
		tw("features", fmt.Sprintf("%s online rows to %s (%s)", sinceStart("online_rows", ""), f.features, def.View.Name))
	}
	if late := st.Counters["late_rows"]; late > 0 {
		tw("late rows", sinceStart("late_rows", " dropped"))
	}
	resumed := ""
	if st.ResumedFrom > 0 {
		resumed = fmt.Sprintf(", resumed from %d", st.ResumedFrom)
	}
	tw("checkpoints", fmt.Sprintf("%d (last %d%s) in %s", st.Checkpoints, st.LastCheckpoint, resumed, f.checkpoints))
}

func tablePaths(def jobs.Definition, out string) []string {
	paths := make([]string, len(def.Tables))
	for i, t := range def.Tables {
		paths[i] = jobs.OutPath(out, t)
	}
	return paths
}
