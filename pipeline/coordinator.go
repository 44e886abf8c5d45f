package pipeline

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// coordinator is the goroutine where a job's shards meet. It starts shard
// tasks in lineage order, merges their batches into the keyed operator, hands
// what comes out to the sink tasks, tracks the watermark, and drives
// checkpoints: it triggers barriers, and once every running shard has
// delivered its barrier (each task waits after its barrier, so nothing newer
// is in the operator yet) it snapshots the operator, queues every sink's
// pre-commit behind what it was given before, and releases the tasks. When
// every sink has answered, it persists the checkpoint and queues the commits;
// the checkpoint is complete once every sink has committed.
type coordinator struct {
	j       *Job
	g       *errgroup.Group
	taskCtx context.Context
	in      chan any
	shards  map[string]*shardEntry
	wm      *watermarks
	nextID  uint64
	pending *inflight

	keyed []*keyedTask // the keyed stage's instances, by partition
	// keyedCounts are the counters each instance reported with its latest
	// snapshot (or at the start), for the operators that report them.
	keyedCounts []map[string]int64
	sinks       []*sinkTask // the main sink's first, then the sides' by name
	sides       map[Side]*sinkTask
	replies     chan sinkReply // room for one reply per sink

	lock     StoreLock   // the checkpoint store's lock; nil without a store
	restored *Checkpoint // the checkpoint the job resumed from; nil when it started fresh
	run      string      // the run id every checkpoint carries
	recovery Recovery    // what the sinks were told at the start
	listed   bool        // the source has been listed once in this run

	rediscover bool            // a shard finished while a checkpoint was in flight
	retired    []string        // finished shards whose clocks hold the watermark until their children start
	bounded    map[string]bool // shards whose bounded read reached its bound in this run
	stopping   bool            // a final checkpoint is wanted
	draining   bool            // the bounded input has ended
	ended      bool            // the final checkpoint has completed

	// In a job whose checkpoints are cut by the data (cuts.go): the
	// barrier each running shard waits at, and the releases they wait for.
	cutAt  map[string]uint64
	gate   *releases
	halted bool // stopped (Shutdown) without a final checkpoint
}

type shardEntry struct {
	shard Shard
	state ShardState
	task  *task // nil when the shard is not being read
}

// inflight is a checkpoint under way.
type inflight struct {
	id      uint64
	started time.Time
	phase   phase
	waiting map[string]bool // shards whose barrier has not arrived
	release chan struct{}
	final   bool

	cp       *Checkpoint                 // built once the barriers are in
	owed     int                         // sink replies still owed in this phase
	counters map[string]map[string]int64 // the sinks' counters at their pre-commit
}

// phase is where an inflight checkpoint is.
type phase int

const (
	phaseBarriers  phase = iota // waiting for the shards' barriers
	phasePreCommit              // waiting for the sinks' handles
	phaseCommit                 // persisted; waiting for the sinks' commits
)

func newCoordinator(ctx context.Context, j *Job) (_ *coordinator, err error) {
	c := &coordinator{
		j:       j,
		in:      make(chan any, j.queue),
		shards:  map[string]*shardEntry{},
		bounded: map[string]bool{},
		wm:      newWatermarks(j.bound),
		nextID:  1,
		sides:   map[Side]*sinkTask{},
	}
	c.replies = make(chan sinkReply, len(j.allSinks()))
	for i, op := range j.keyed {
		c.keyed = append(c.keyed, &keyedTask{index: i, op: op, post: j.postOps[i], in: make(chan keyedMsg, j.queue), out: c})
	}
	c.sinks = []*sinkTask{newSinkTask(j.sink, j.queue, c.replies)}
	for _, side := range slices.Sorted(maps.Keys(j.sides)) {
		t := newSinkTask(j.sides[side], j.queue, c.replies)
		c.sinks = append(c.sinks, t)
		c.sides[side] = t
	}
	if j.store != nil {
		if c.lock, err = j.store.Acquire(ctx, j.name); err != nil {
			return nil, err // the store's error names the job and what to do
		}
		defer func() {
			if err != nil {
				c.release()
			}
		}()
		if c.restored, err = j.store.Latest(ctx, j.name); err != nil {
			return nil, err // likewise
		}
	}
	cp := c.restored
	if cp != nil && cp.Fingerprint != j.fingerprint {
		return nil, fmt.Errorf("%w: checkpoint %d of job %q has fingerprint %s, this job has %s; "+
			"keep the job as it was, or start it over with a new checkpoint directory and --overwrite", ErrIncompatibleCheckpoint, cp.ID, j.name, cp.Fingerprint, j.fingerprint)
	}
	if id, ok := j.src.(Identifier); ok && cp != nil {
		if err := id.Resume(cp.Source); err != nil {
			return nil, fmt.Errorf("pipeline: job %q: checkpoint %d: %w", j.name, cp.ID, err)
		}
	}
	var replayRun string
	if j.replay {
		if replayRun, err = j.replayRun(ctx, cp); err != nil {
			return nil, err
		}
	}
	rec := Recovery{Job: j.name, Overwrite: j.overwrite, Replay: j.replay}
	if c.lock != nil {
		rec.Epoch = c.lock.Epoch()
	}
	var opState map[string][]byte
	if cp != nil {
		rec.ID, rec.Run, opState = cp.ID, cp.Run, cp.Operators
		c.nextID = cp.ID + 1
		if cp.Watermark != MaxTime {
			c.wm.current = cp.Watermark
		}
		// else the checkpoint ended a bounded input, whose end fired every
		// window: the input has grown since (lines appended, more events), and
		// the watermark starts again from the shards' event times. The keyed
		// operator still knows which windows it fired.
		for sid, st := range cp.Shards {
			c.shards[sid] = &shardEntry{shard: Shard{ID: sid, Parents: st.Parents}, state: st}
			j.progress(sid, st)
		}
		j.updateStats(func(s *Stats) { s.ResumedFrom, s.LastCheckpoint, s.Watermark = cp.ID, cp.ID, cp.Watermark })
		j.logger.Info("resuming", "job", j.name, "checkpoint", cp.ID, "run", cp.Run, "shards", len(cp.Shards))
	}
	switch {
	case rec.Run != "":
	case replayRun != "":
		rec.Run = replayRun
	case cp != nil:
		// A checkpoint written before runs had ids: every restore of it must
		// continue the same run, for the sinks record the re-commit of its
		// handle under that run, and the next start may restore it again (a
		// crash before the next checkpoint, or nothing new to write).
		rec.Run = legacyRunID(cp)
	default: // a fresh job
		if rec.Run, err = NewRunID(); err != nil {
			return nil, fmt.Errorf("pipeline: job %q: %w", j.name, err)
		}
	}
	c.run, c.recovery = rec.Run, rec
	if c.cutMode() {
		c.cutAt, c.gate = map[string]uint64{}, newReleases(c.nextID-1)
	}
	for _, s := range j.allSinks() {
		if cm, ok := s.(Committer); ok {
			r := rec
			if cp != nil {
				r.Handle = cp.Sinks[s.Name()]
			}
			if err := cm.Recover(ctx, r); err != nil {
				return nil, fmt.Errorf("pipeline: job %q: recover sink %s at checkpoint %d: %w", j.name, s.Name(), rec.ID, err)
			}
		}
	}
	if len(j.keyed) > 0 && cp != nil {
		if err := c.restoreKeyed(opState[j.keyedName], cp.Shards); err != nil {
			return nil, fmt.Errorf("pipeline: job %q: restore %s from checkpoint %d: %w", j.name, j.keyedName, rec.ID, err)
		}
	}
	j.logger.Info("job started", "job", j.name, "run", rec.Run, "epoch", rec.Epoch, "resumed_from", rec.ID, "partitions", len(j.keyed))
	c.keyedCounts = make([]map[string]int64, len(c.keyed))
	for i, t := range c.keyed { // their goroutines have not started yet
		if cr, ok := t.op.(CounterReporter); ok {
			c.keyedCounts[i] = cr.Counters()
		}
	}
	if at := c.keyedCounters(); at != nil {
		j.updateStats(func(s *Stats) { s.CountersAtStart, s.Counters = at, maps.Clone(at) })
	}
	return c, nil
}

// restoreKeyed restores the keyed stage's instances from state, the
// snapshots (or common parts) of the instances of the run that checkpointed,
// and the shards' keyed parts. An operator with state per shard gets all of
// them and keeps its partition's; another runs alone and gets the one
// snapshot. The shards' entries keep no keyed state: it is the operators' now.
func (c *coordinator) restoreKeyed(state []byte, shards map[string]ShardState) error {
	var states [][]byte
	if state != nil {
		var err error
		if states, err = decodePartitions(state); err != nil {
			return err
		}
	}
	parts := map[string][][]byte{}
	for id, st := range shards {
		if st.Keyed != nil {
			p, err := decodePartitions(st.Keyed)
			if err != nil {
				return fmt.Errorf("shard %s: %w", id, err)
			}
			parts[id] = p
		}
		if e := c.shards[id]; e != nil {
			e.state.Keyed = nil
		}
	}
	if _, ok := c.keyed[0].op.(ShardSnapshotter); ok {
		for _, t := range c.keyed {
			if err := t.op.(ShardSnapshotter).RestoreShards(states, parts); err != nil {
				return err
			}
		}
		return nil
	}
	switch {
	case len(parts) > 0:
		return fmt.Errorf("the checkpoint holds state per shard, which %T cannot restore", c.keyed[0].op)
	case len(states) > 1:
		return fmt.Errorf("the checkpoint holds %d partitions of the state, which %T cannot merge", len(states), c.keyed[0].op)
	case len(states) == 1:
		return c.keyed[0].op.Restore(states[0])
	}
	return nil
}

// keyedCounters sums the counters the keyed stage's instances reported last;
// nil when its operator reports none.
func (c *coordinator) keyedCounters() map[string]int64 {
	if len(c.keyed) == 0 {
		return nil
	}
	if _, ok := c.keyed[0].op.(CounterReporter); !ok {
		return nil
	}
	sum := map[string]int64{}
	for _, counts := range c.keyedCounts {
		for k, v := range counts {
			sum[k] += v
		}
	}
	return sum
}

// NewRunID returns a new run id (Recovery.Run): 12 random hex digits, which
// no other run of any job will produce in practice (48 bits).
func NewRunID() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("run id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// replayRunPrefix starts the run id of a replay (WithReplay), so that its
// output files tell themselves apart: part-replay-<12 hex>-<ckpt>-<seq>.
const replayRunPrefix = "replay-"

// replayRun returns the run id of the replay that j runs: "replay-" and 12
// hex digits of a hash of the job's name and fingerprint and the source's
// ReplayKey. A checkpoint of another replay (another range in the same
// checkpoint directory) is refused. A checkpoint of a replay started before
// replays had their own run ids keeps its run (returned as "").
func (j *Job) replayRun(ctx context.Context, cp *Checkpoint) (string, error) {
	r, ok := j.src.(Replayable)
	if !ok {
		return "", fmt.Errorf("pipeline: job %q: a replay needs a source that reads fixed input; %T does not", j.name, j.src)
	}
	key, err := r.ReplayKey(ctx)
	if err != nil {
		return "", fmt.Errorf("pipeline: job %q: replay: %w", j.name, err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", j.name, j.fingerprint)
	h.Write(key)
	if j.replayStep > 0 && j.replayStep != DefaultReplayStep.Milliseconds() {
		// Another step cuts other checkpoints: another replay. The default
		// one leaves the run ids of replays from before steps existed alone.
		fmt.Fprintf(h, "\x00step=%d", j.replayStep)
	}
	run := replayRunPrefix + hex.EncodeToString(h.Sum(nil)[:6])
	switch {
	case cp == nil || cp.Run == run:
		return run, nil
	case strings.HasPrefix(cp.Run, replayRunPrefix):
		return "", fmt.Errorf("%w: checkpoint %d of job %q is of replay %s, this replay reads other input or another range (%s); "+
			"give each replay its own --checkpoints", ErrIncompatibleCheckpoint, cp.ID, j.name, cp.Run, run)
	}
	return "", nil
}

// legacyRunID is the run id of cp, a checkpoint without one: 12 hex digits
// of a hash of what identifies it, the same at every restore.
func legacyRunID(cp *Checkpoint) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%s\x00%d", cp.Job, cp.ID, cp.Fingerprint, cp.Created.UnixNano()))
	return hex.EncodeToString(sum[:6])
}

// release gives up the checkpoint store's lock, if held.
func (c *coordinator) release() {
	if c.lock == nil {
		return
	}
	if err := c.lock.Release(); err != nil {
		c.j.logger.Warn("cannot release the checkpoint store's lock", "job", c.j.name, "err", err)
	}
	c.lock = nil
}

func (c *coordinator) runAll(ctx context.Context) error {
	defer c.release()
	g, gctx := errgroup.WithContext(ctx)
	taskCtx, stopTasks := context.WithCancel(gctx)
	c.g, c.taskCtx = g, taskCtx
	for _, t := range c.sinks {
		g.Go(func() error { return t.run(gctx) })
	}
	var keyed sync.WaitGroup
	for _, t := range c.keyed {
		keyed.Add(1)
		g.Go(func() error {
			defer keyed.Done()
			return t.run(gctx)
		})
	}
	g.Go(func() error {
		defer stopTasks()
		if err := c.loop(gctx); err != nil {
			return err
		}
		// Every checkpoint has committed: nothing is owed. The keyed tasks
		// write to the sinks, so they stop first.
		for _, t := range c.keyed {
			close(t.in)
		}
		keyed.Wait()
		for _, t := range c.sinks {
			close(t.in)
		}
		return nil
	})
	err := g.Wait()
	c.drainQueue()
	for _, t := range c.keyed {
		t.drain()
	}
	for _, t := range c.sinks {
		t.drain()
	}
	return err
}

func (c *coordinator) loop(ctx context.Context) error {
	if err := c.discover(ctx); err != nil {
		return err
	}
	var checkpoints <-chan time.Time // none when the data cuts them
	if !c.cutMode() {
		t := time.NewTicker(c.j.interval)
		defer t.Stop()
		checkpoints = t.C
	}
	var discovery <-chan time.Time
	if !c.j.src.Bounded() {
		t := time.NewTicker(discoveryInterval)
		defer t.Stop()
		discovery = t.C
	}
	stop := c.j.stop
	for !c.ended {
		var err error
		select {
		case el := <-c.in:
			err = c.handle(ctx, el)
		case r := <-c.replies:
			err = c.sinkReplied(ctx, r)
		case <-checkpoints:
			err = c.startCheckpoint(ctx, false)
		case <-discovery:
			err = c.discover(ctx) // deferred while a checkpoint is in flight
		case <-stop:
			stop = nil
			if c.cutMode() {
				// A checkpoint here would be cut by the clock: stop at the
				// last data cut (once the one under way has completed); the
				// next start resumes from it and replaces what followed.
				c.halted = true
				c.ended = c.pending == nil
				continue
			}
			err = c.startCheckpoint(ctx, true)
		case <-ctx.Done():
			return ctx.Err()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// discoveryInterval is how often an unbounded source is asked for new shards.
const discoveryInterval = 10 * time.Second

func (c *coordinator) handle(ctx context.Context, el any) error {
	switch el := el.(type) {
	case *Batch:
		if el.Side != MainSide {
			return c.writeSide(ctx, el)
		}
		return c.process(ctx, el, nil)
	case keyedBatch:
		return c.process(ctx, el.b, el.parts)
	case shardIdle:
		if c.cutMode() {
			return nil // idleness is the clock's: it must not move a replay's watermark
		}
		c.wm.setIdle(el.Shard, el.Idle)
		return c.advanceWatermark(ctx)
	case Barrier:
		c.shards[el.Shard].state = el.State
		if c.cutMode() {
			return c.cutArrived(ctx, el.Shard, el.ID)
		}
		if p := c.pending; p != nil && p.id == el.ID {
			return c.arrived(ctx, el.Shard)
		}
	case shardEnd:
		e := c.shards[el.Shard]
		e.state, e.task = el.State, nil
		c.j.metrics.ShardDone(el.Shard)
		switch {
		case el.State.Finished:
			// Its children start from its event time; until they do, its clock
			// keeps the watermark from jumping to the shards that are ahead.
			c.retired = append(c.retired, el.Shard)
			c.rediscover = true
			c.j.logger.Debug("shard finished", "shard", el.Shard, "position", el.State.Position)
		case el.Bound:
			// Done for this run; it has no children yet and does not count.
			c.bounded[el.Shard] = true
			c.wm.remove(el.Shard)
			c.rediscover = true
			c.j.logger.Debug("shard reached its bound", "shard", el.Shard, "position", el.State.Position)
		}
		// A shard that stopped without finishing (the job is shutting down)
		// keeps its clock: the rows it has not read yet must not become late
		// because the shards still sending moved the watermark on.
		if c.cutMode() {
			// Its children start now, and take part in the next cut.
			delete(c.cutAt, el.Shard)
			if err := c.discover(ctx); err != nil {
				return err
			}
			return c.tryCut(ctx)
		}
		if p := c.pending; p != nil && p.phase == phaseBarriers {
			return c.arrived(ctx, el.Shard)
		}
		if c.rediscover {
			return c.discover(ctx)
		}
		return c.advanceWatermark(ctx)
	default:
		return fmt.Errorf("pipeline: job %q: unexpected element %T", c.j.name, el)
	}
	return nil
}

// arrived notes that shard has reached the in-flight checkpoint (its barrier
// or its end came) and goes on with the checkpoint when it was the last one.
func (c *coordinator) arrived(ctx context.Context, shard string) error {
	p := c.pending
	if p.phase != phaseBarriers {
		return nil
	}
	delete(p.waiting, shard)
	if len(p.waiting) == 0 {
		return c.barriersIn(ctx)
	}
	return nil
}

// process hands a main-side batch to the keyed stage's instances, the rows of
// each partition (parts, nil for all) to its own, or, in a job without a keyed
// stage, to the sink; then it moves the watermark.
func (c *coordinator) process(ctx context.Context, b *Batch, parts [][]int32) error {
	shard, n, maxTime := b.Shard, b.Len(), b.MaxTime
	switch {
	case len(c.keyed) == 0:
		if n == 0 {
			b.Release()
			break
		}
		if !c.sinks[0].send(ctx, sinkMsg{op: sinkWrite, batch: b}) {
			return ctx.Err()
		}
		c.j.updateStats(func(s *Stats) { s.RowsOut += int64(n) })
	case parts == nil:
		if !c.keyed[0].send(ctx, keyedMsg{batch: b}) {
			return ctx.Err()
		}
	default:
		for i, rows := range parts {
			if len(rows) == 0 {
				continue
			}
			b.Rec.Retain()
			pb := b.WithRecord(b.Rec)
			pb.Rows = rows
			if !c.keyed[i].send(ctx, keyedMsg{batch: pb}) {
				b.Release()
				return ctx.Err()
			}
		}
		b.Release()
	}
	if n > 0 && c.j.timeCol >= 0 {
		c.wm.observe(shard, maxTime)
		return c.advanceWatermark(ctx)
	}
	return nil
}

func (c *coordinator) writeSide(ctx context.Context, b *Batch) error {
	t, ok := c.sides[b.Side]
	if !ok {
		defer b.Release()
		if b.Side == DeadLetterSide {
			return fmt.Errorf("pipeline: job %q: %s; set a DeadLetters sink to keep such records and go on", c.j.name, describeDeadLetter(b))
		}
		return fmt.Errorf("pipeline: job %q: no sink for side %q", c.j.name, b.Side)
	}
	n := int64(b.Len())
	if !t.send(ctx, sinkMsg{op: sinkWrite, batch: b}) {
		return ctx.Err()
	}
	if b.Side == DeadLetterSide {
		c.j.updateStats(func(s *Stats) { s.DeadLetters += n })
	}
	return nil
}

func (c *coordinator) advanceWatermark(ctx context.Context) error {
	wm, moved := c.wm.advance()
	if !moved {
		return nil
	}
	return c.fire(ctx, wm)
}

// fire tells the keyed stage's instances that the watermark has reached wm.
func (c *coordinator) fire(ctx context.Context, wm int64) error {
	c.j.metrics.Watermark(wm)
	c.j.updateStats(func(s *Stats) { s.Watermark = wm })
	for _, t := range c.keyed {
		if !t.send(ctx, keyedMsg{wm: wm}) {
			return ctx.Err()
		}
	}
	return nil
}

// refreshCounters copies the keyed stage's counters into the job's stats.
func (c *coordinator) refreshCounters() {
	if counters := c.keyedCounters(); counters != nil {
		c.j.updateStats(func(s *Stats) { maps.Copy(s.Counters, counters) })
	}
}

// reportCounters copies the sinks' counters (as they reported them at a
// pre-commit) into the job's stats and hands every component's counters to
// the metrics hook.
func (c *coordinator) reportCounters(sinks map[string]map[string]int64) {
	c.refreshCounters()
	c.j.updateStats(func(s *Stats) { maps.Copy(s.Components, sinks) })
	st := c.j.Stats()
	if len(c.keyed) > 0 {
		c.j.metrics.Counters(c.j.keyedName, st.Counters)
	}
	for _, name := range slices.Sorted(maps.Keys(st.Components)) {
		c.j.metrics.Counters(name, st.Components[name])
	}
}

// discover asks the source for its shards and starts every shard that is not
// finished and whose parents are. With a bounded source and nothing left to
// read, it ends the input.
func (c *coordinator) discover(ctx context.Context) error {
	if c.pending != nil && !c.cutMode() {
		c.rediscover = true
		return nil
	}
	c.rediscover = false
	listed, err := c.j.src.Shards(ctx)
	if err != nil {
		return fmt.Errorf("pipeline: job %q: list shards of %s: %w", c.j.name, c.j.src.Name(), err)
	}
	isListed := make(map[string]bool, len(listed))
	for _, s := range listed {
		isListed[s.ID] = true
		if e, ok := c.shards[s.ID]; ok {
			e.shard, e.state.Parents = s, s.Parents
			continue
		}
		st := ShardState{Parents: s.Parents, MaxEventTime: MinTime}
		if c.listed || c.restored != nil {
			// Every record of a shard that appeared after the job's first
			// listing is new to the job: read it from its earliest record,
			// whatever the configured start.
			st.Position = Earliest
		}
		c.shards[s.ID] = &shardEntry{shard: s, state: st}
	}
	c.listed = true
	if !c.j.src.Bounded() {
		c.prune(isListed)
	}
	c.forgetInherited()
	running := 0
	for _, id := range slices.Sorted(maps.Keys(c.shards)) {
		e := c.shards[id]
		if e.task == nil && !e.state.Finished && !c.bounded[id] && c.parentsFinished(e) {
			if err := c.start(e); err != nil {
				return err
			}
		}
		if e.task != nil {
			running++
		}
	}
	c.retired = slices.DeleteFunc(c.retired, func(id string) bool {
		if c.childrenStarted(id) {
			c.wm.remove(id)
			return true
		}
		return false
	})
	if running == 0 && c.j.src.Bounded() && !c.draining {
		return c.endInput(ctx)
	}
	return c.advanceWatermark(ctx)
}

// prune forgets finished shards that the source no longer lists (a Kinesis
// shard past its retention) once their children are under way, so that
// checkpoints do not grow with every reshard; a child whose parent is unknown
// treats it as finished.
func (c *coordinator) prune(isListed map[string]bool) {
	for id, e := range c.shards {
		if e.state.Finished && !isListed[id] && !slices.Contains(c.retired, id) && c.childrenStarted(id) {
			delete(c.shards, id)
		}
	}
}

// forgetInherited drops the local operator state (ShardState.Local) of a
// finished shard once each of its children has a state of its own, which
// started from it, so that checkpoints do not carry it until the shard is
// pruned. A checkpoint written before still has it for a restart.
func (c *coordinator) forgetInherited() {
	for id, e := range c.shards {
		if !e.state.Finished || e.state.Local == nil {
			continue
		}
		children, seeded := 0, 0
		for _, ch := range c.shards {
			if slices.Contains(ch.shard.Parents, id) {
				children++
				if ch.state.Local != nil {
					seeded++
				}
			}
		}
		if children > 0 && seeded == children {
			e.state.Local = nil
		}
	}
}

// childrenStarted reports whether every shard that names id as a parent is
// being read or done (true when it has none).
func (c *coordinator) childrenStarted(id string) bool {
	for _, e := range c.shards {
		if slices.Contains(e.shard.Parents, id) && e.task == nil && !e.state.Finished {
			return false
		}
	}
	return true
}

func (c *coordinator) parentsFinished(e *shardEntry) bool {
	for _, p := range e.shard.Parents {
		if pe, ok := c.shards[p]; ok && !pe.state.Finished {
			return false
		}
	}
	return true
}

// start launches the task of a shard. A child shard that has seen no record
// carries on from its parents' event time, so the watermark does not go back.
func (c *coordinator) start(e *shardEntry) error {
	if e.state.MaxEventTime == MinTime && len(e.shard.Parents) > 0 {
		inherited := MaxTime
		for _, p := range e.shard.Parents {
			if pe, ok := c.shards[p]; ok {
				inherited = min(inherited, pe.state.MaxEventTime)
			}
		}
		if inherited != MaxTime {
			e.state.MaxEventTime = inherited
		}
	}
	var seed []map[string][]byte // a child with no local state of its own starts from its parents' (LocalSnapshotter)
	if e.state.Local == nil {
		for _, p := range e.shard.Parents {
			if pe, ok := c.shards[p]; ok && pe.state.Local != nil {
				seed = append(seed, pe.state.Local)
			}
		}
	}
	ops := make([]Operator, len(c.j.shardOps))
	names := make([]string, len(c.j.shardOps))
	for i, s := range c.j.shardOps {
		names[i] = s.name
		op, err := s.newOp(OperatorEnv{Mem: c.j.mem, Source: c.j.src.Name(), Shard: e.shard.ID})
		if err != nil {
			closeOperators(ops[:i]...) //nolint:errcheck // the constructor's error is the one to report
			return fmt.Errorf("pipeline: job %q: shard %s: %s: %w", c.j.name, e.shard.ID, s.name, err)
		}
		ops[i] = op
	}
	t := &task{
		shard:    e.shard,
		state:    e.state,
		src:      c.j.src,
		ops:      ops,
		opNames:  names,
		timeCol:  c.j.timeCol,
		maxAhead: c.j.maxAhead,
		out:      c.in,
		triggers: make(chan trigger, 1),
		progress: c.j.progress(e.shard.ID, e.state),
		metrics:  c.j.metrics,
		seed:     seed,
	}
	if c.cutMode() {
		t.step, t.cut, t.gate = c.j.replayStep, c.nextID-1, c.gate
	}
	if len(c.keyed) > 1 {
		t.part = &partitioner{cols: c.j.keyCols, n: len(c.keyed)}
	}
	e.task = t
	c.j.metrics.ShardRead(e.shard.ID, 0, 0) // its series exist from the start, at zero
	c.wm.add(e.shard.ID, e.state.MaxEventTime)
	c.g.Go(func() error { return t.run(c.taskCtx) })
	return nil
}

// endInput fires every window once a bounded input has been read entirely,
// then takes the final checkpoint.
func (c *coordinator) endInput(ctx context.Context) error {
	c.draining = true
	c.wm.finish()
	if err := c.fire(ctx, MaxTime); err != nil {
		return err
	}
	return c.startCheckpoint(ctx, true)
}

func (c *coordinator) startCheckpoint(ctx context.Context, final bool) error {
	if c.pending != nil {
		c.stopping = c.stopping || final
		return nil
	}
	p := &inflight{id: c.nextID, started: time.Now(), waiting: map[string]bool{}, release: make(chan struct{}), final: final}
	c.nextID++
	for id, e := range c.shards {
		if e.task == nil {
			continue
		}
		select {
		case e.task.triggers <- trigger{id: p.id, release: p.release, stop: final}:
			p.waiting[id] = true
		default:
			return fmt.Errorf("pipeline: job %q: shard %s has not taken the previous checkpoint's trigger", c.j.name, id)
		}
	}
	c.pending = p
	if len(p.waiting) == 0 {
		return c.barriersIn(ctx)
	}
	return nil
}

// barriersIn goes on with the in-flight checkpoint once every running shard
// waits at its barrier, so the operator's state is exactly the rows before
// them: it snapshots the state, queues the sinks' pre-commits and lets the
// shards read on.
func (c *coordinator) barriersIn(ctx context.Context) error {
	p := c.pending
	cp := &Checkpoint{
		ID:          p.id,
		Job:         c.j.name,
		Fingerprint: c.j.fingerprint,
		Run:         c.run,
		Watermark:   c.wm.current,
		Shards:      make(map[string]ShardState, len(c.shards)),
		Operators:   map[string][]byte{},
		Sinks:       map[string][]byte{},
	}
	if c.lock != nil {
		cp.Epoch = c.lock.Epoch()
	}
	if id, ok := c.j.src.(Identifier); ok {
		cp.Source = id.Identity()
	}
	for id, e := range c.shards {
		cp.Shards[id] = e.state
	}
	if len(c.keyed) > 0 {
		state, shards, err := c.snapshotKeyed(ctx)
		if err != nil {
			return c.failed(fmt.Errorf("snapshot %s: %w", c.j.keyedName, err))
		}
		cp.Operators[c.j.keyedName] = state
		for id, part := range shards {
			st, ok := cp.Shards[id]
			if !ok {
				// A shard the job no longer reads nor lists, whose windows
				// have not fired yet: kept as finished, for its state.
				st = ShardState{Finished: true, MaxEventTime: MinTime}
			}
			st.Keyed = part
			cp.Shards[id] = st
		}
	}
	p.cp, p.phase, p.owed, p.counters = cp, phasePreCommit, len(c.sinks), map[string]map[string]int64{}
	for _, t := range c.sinks {
		if !t.send(ctx, sinkMsg{op: sinkPreCommit, id: p.id}) {
			return ctx.Err()
		}
	}
	close(p.release) // the shards go on reading while the sinks pre-commit
	if c.gate != nil {
		c.gate.release(p.id)
	}
	if p.owed == 0 {
		return c.persist(ctx)
	}
	return nil
}

// snapshotKeyed asks every instance of the keyed stage for its snapshot,
// behind what it was given before, and waits for them. Meanwhile the shards
// wait at their barriers and the coordinator routes nothing, so nothing an
// instance emits after its snapshot can reach a sink before the pre-commits.
// It returns the instances' snapshots (or common parts), and per shard the
// parts of the instances that hold state of it, in partition order.
func (c *coordinator) snapshotKeyed(ctx context.Context) ([]byte, map[string][]byte, error) {
	replies := make(chan keyedSnapshot, len(c.keyed))
	for _, t := range c.keyed {
		if !t.send(ctx, keyedMsg{snap: replies}) {
			return nil, nil, ctx.Err()
		}
	}
	got := make([]keyedSnapshot, len(c.keyed))
	for range c.keyed {
		select {
		case r := <-replies:
			if r.err != nil {
				return nil, nil, r.err
			}
			got[r.index] = r
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	states := make([][]byte, len(got))
	byShard := map[string][][]byte{}
	for i, r := range got {
		states[i] = r.state
		c.keyedCounts[i] = r.counters
		for id, part := range r.shards {
			byShard[id] = append(byShard[id], part)
		}
	}
	shards := make(map[string][]byte, len(byShard))
	for id, parts := range byShard {
		shards[id] = encodePartitions(parts)
	}
	return encodePartitions(states), shards, nil
}

// sinkReplied takes a sink's answer to the in-flight checkpoint's pre-commit
// or commit.
func (c *coordinator) sinkReplied(ctx context.Context, r sinkReply) error {
	p := c.pending
	if p == nil || p.id != r.id {
		return fmt.Errorf("pipeline: job %q: sink %s answered for checkpoint %d, which is not in flight", c.j.name, r.task.sink.Name(), r.id)
	}
	if r.op == sinkPreCommit {
		if r.task.cm != nil {
			p.cp.Sinks[r.task.sink.Name()] = r.handle
		}
		if r.counters != nil {
			p.counters[r.task.sink.Name()] = r.counters
		}
	}
	if p.owed--; p.owed > 0 {
		return nil
	}
	if p.phase == phasePreCommit {
		return c.persist(ctx)
	}
	return c.complete(ctx, true)
}

// persist saves the in-flight checkpoint once every sink has pre-committed,
// and queues the commits. A final checkpoint with nothing new to record is
// not written.
func (c *coordinator) persist(ctx context.Context) error {
	p := c.pending
	cp := p.cp
	if p.final && c.nothingNew(cp) {
		c.j.logger.Info("nothing new since the checkpoint resumed from: no checkpoint written", "job", c.j.name, "checkpoint", c.restored.ID)
		c.nextID = p.id // the id was not used
		return c.complete(ctx, false)
	}
	cp.Created = time.Now().UTC()
	if c.j.store != nil {
		if err := c.j.store.Save(ctx, cp); err != nil {
			return c.failed(fmt.Errorf("save: %w", err))
		}
	}
	p.phase, p.owed = phaseCommit, 0
	for _, t := range c.sinks {
		if t.cm == nil {
			continue
		}
		if !t.send(ctx, sinkMsg{op: sinkCommit, id: p.id, handle: cp.Sinks[t.sink.Name()]}) {
			return ctx.Err()
		}
		p.owed++
	}
	if p.owed == 0 {
		return c.complete(ctx, true)
	}
	return nil
}

// failed reports the in-flight checkpoint's failure, which ends the job.
func (c *coordinator) failed(err error) error {
	p := c.pending
	c.j.metrics.Checkpoint(p.id, time.Since(p.started), err)
	return fmt.Errorf("pipeline: job %q: checkpoint %d: %w", c.j.name, p.id, err)
}

// complete ends the in-flight checkpoint; saved is false when it had nothing
// new to record and was not written.
func (c *coordinator) complete(ctx context.Context, saved bool) error {
	p := c.pending
	c.pending = nil
	if saved {
		c.j.metrics.Checkpoint(p.id, time.Since(p.started), nil)
	}
	c.j.updateStats(func(s *Stats) {
		if saved {
			s.Checkpoints++
			s.LastCheckpoint = p.id
		}
		s.Finished = c.draining
	})
	c.reportCounters(p.counters)
	if saved {
		st := c.j.Stats()
		c.j.logger.Debug("checkpoint complete", "job", c.j.name, "id", p.id, "took", time.Since(p.started),
			"records_in", st.RecordsIn, "rows_out", st.RowsOut, "dead_letters", st.DeadLetters)
	}
	switch {
	case p.final, c.halted:
		c.ended = true
		return nil
	case c.stopping:
		return c.startCheckpoint(ctx, true)
	case c.cutMode():
		if err := c.advanceWatermark(ctx); err != nil {
			return err
		}
		return c.tryCut(ctx)
	case c.rediscover:
		return c.discover(ctx)
	}
	return c.advanceWatermark(ctx)
}

// nothingNew reports whether cp, a final checkpoint, would record nothing
// that the checkpoint the job resumed from does not: no record was read and
// no row written in this run, and every shard is where it was. Writing it
// would only push older checkpoints out.
func (c *coordinator) nothingNew(cp *Checkpoint) bool {
	was := c.restored
	if was == nil || len(cp.Shards) != len(was.Shards) {
		return false
	}
	st := c.j.Stats()
	if st.RecordsIn != 0 || st.RowsOut != 0 || st.DeadLetters != 0 {
		return false
	}
	for id, s := range cp.Shards {
		w, ok := was.Shards[id]
		if !ok || s.Position != w.Position || s.Finished != w.Finished || s.MaxEventTime != w.MaxEventTime || !slices.Equal(s.Parents, w.Parents) {
			return false
		}
	}
	return true
}

// drainQueue releases the batches that were still queued when the job ended.
func (c *coordinator) drainQueue() {
	for {
		select {
		case el := <-c.in:
			releaseElement(el)
		default:
			return
		}
	}
}

func describeDeadLetter(b *Batch) string {
	if b.Len() == 0 || b.Rec.NumCols() < 4 {
		return "a record was rejected"
	}
	col := func(i int) string {
		if s, ok := b.Rec.Column(i).(interface{ Value(int) string }); ok {
			return s.Value(0)
		}
		return "?"
	}
	return fmt.Sprintf("record at shard %s position %s rejected: %s", col(1), col(2), col(3))
}
