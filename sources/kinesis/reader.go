package kinesis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/shardflow/shardflow/internal/kinesiserr"
	"github.com/shardflow/shardflow/pipeline"
)

// maxReadWait bounds how long Read blocks without data. The runtime reads in
// a goroutine of its own, so barriers never wait for Read; Read still returns
// now and then so that the runtime can ask Idle.
const maxReadWait = time.Second

// errStopped ends a deaggregation early at a StopAt bound.
var errStopped = errors.New("kinesis: stop bound reached")

// errReaderClosed is what Read returns after Close.
var errReaderClosed = errors.New("kinesis: shard reader closed")

// shardReader reads one shard. It is a small state machine driven by Read:
//
//	no iterator  -> GetShardIterator (after the last record read, else after
//	                the checkpoint, else the configured start)
//	iterator     -> GetRecords when the pacing allows, queue the batches
//	pending      -> hand out queued batches first, in stream order
//	ended        -> ErrShardEnd once the queue is empty
//
// Failures set a backoff deadline instead of sleeping inside one Read beyond
// maxReadWait.
//
// The end is pipeline.ErrShardEnd only when the shard is closed and every
// record was delivered; a StopAt bound ends the read with
// pipeline.ErrBoundReached, which leaves the shard open in the checkpoint.
type shardReader struct {
	src   *Source
	cfg   *Config
	shard string
	log   *slog.Logger

	raw     *pipeline.RawBuilder
	dead    *pipeline.DeadLetterBuilder
	pending []*pipeline.Batch

	iter     *string
	after    pipeline.Position // checkpointed position, until a record is read
	earliest bool              // opened at pipeline.Earliest: start at TRIM_HORIZON
	skip     bool              // drop the record at after.Seq up to sub-record after.N
	last     pipeline.Position // the last record read (delivered or queued)
	bound    *pipeline.Position
	// With StopAt.Tips: needTips until the source's tips are known, then
	// atTip once the bound is the shard's tip, which a caught-up reader has
	// passed (tips.go).
	needTips bool
	atTip    bool

	nextCall   time.Time // no call before
	lastCall   time.Time // start of the last GetRecords call
	latestAt   time.Time // when the first LATEST iterator was asked for
	failures   int
	streak     kinesiserr.Streak // the consecutive failures, for the log and Trouble
	fm         FailureMetrics    // cfg.Metrics, when it counts failures; else nil
	nearExpiry bool              // the last answer was within RetentionMargin of expiring (expiry.go)
	hot        *shardHot         // the shard's write load (hot.go)
	ended      bool
	endErr     error // what Read returns once ended and drained

	caughtUp   bool
	emptySince time.Time
	closed     bool

	// Enhanced fan-out.
	subCtx       context.Context // lives as long as the reader
	cancelSub    context.CancelFunc
	sub          subscription
	subCancel    context.CancelFunc // ends sub's context
	subStarted   time.Time
	continuation string
}

var (
	_ pipeline.ShardReader  = (*shardReader)(nil)
	_ pipeline.IdleReporter = (*shardReader)(nil)
)

func newShardReader(s *Source, shard string, after pipeline.Position) *shardReader {
	earliest := after.IsEarliest()
	if earliest {
		after = pipeline.Position{}
	}
	r := &shardReader{
		src: s, cfg: &s.cfg, shard: shard,
		log:      s.cfg.Logger.With("stream", s.cfg.Stream, "shard", shard),
		raw:      pipeline.NewRawBuilder(s.cfg.Mem),
		dead:     pipeline.NewDeadLetterBuilder(s.cfg.Mem, Name),
		after:    after,
		earliest: earliest,
		skip:     after.Seq != "",
	}
	if after.IsZero() && !earliest {
		// A shard of a resumed latest job that had no record read: from the
		// time the job first started, so that nothing that arrived since is
		// skipped (a fresh LATEST would skip it).
		r.latestAt = s.resumedLatest()
	}
	if fm, ok := s.cfg.Metrics.(FailureMetrics); ok {
		r.fm = fm
		fm.ShardOpened(shard)
	}
	r.subCtx, r.cancelSub = context.WithCancel(context.Background())
	if st := s.cfg.StopAt; st != nil {
		if p, ok := st.Positions[shard]; ok {
			r.bound = &p
		}
		r.needTips = st.Tips
	}
	r.needTips = r.needTips || s.cfg.Backfill
	return r
}

// applyTips bounds the reader by the source's tips: at the shard's tip (or
// at its Positions bound, if earlier), at its end, or at once.
func (r *shardReader) applyTips(t *tipSet) {
	r.needTips = false
	b := t.bound(r.shard)
	switch {
	case b.none:
		r.reachBound()
	case b.bounded && (r.bound == nil || compareSeq(b.pos.Seq, r.bound.Seq) < 0):
		r.bound, r.atTip = &b.pos, true
	}
}

// Read returns the next raw batch (or a dead-letter batch for a corrupt
// aggregate, in stream order), nil after about a second without records,
// pipeline.ErrShardEnd once the shard is closed and drained, and
// pipeline.ErrBoundReached once a bounded read reached StopAt.
func (r *shardReader) Read(ctx context.Context) (*pipeline.Batch, error) {
	deadline := time.Now().Add(maxReadWait)
	if r.needTips {
		t, err := r.src.awaitTips(ctx, deadline)
		if err != nil || t == nil {
			return nil, err
		}
		r.applyTips(t)
	}
	for {
		if len(r.pending) > 0 {
			b := r.pending[0]
			r.pending[0] = nil
			r.pending = r.pending[1:]
			return b, nil
		}
		if r.ended {
			r.closeSub()
			return nil, r.endErr
		}
		wake := r.nextCall
		if r.sub != nil {
			wake = time.Time{} // events come when they come; nextCall paces subscribing
		}
		if wake.After(deadline) {
			return nil, sleepUntil(ctx, deadline)
		}
		if err := sleepUntil(ctx, wake); err != nil {
			return nil, err
		}
		if r.cfg.Consumer != "" {
			var err error
			switch now := time.Now(); {
			case r.sub == nil:
				err = r.subscribe(ctx)
			case r.renewDue(now):
				err = r.renew(ctx)
			}
			if err == nil && r.sub != nil {
				until := deadline
				at := r.renewAt()
				if r.nextCall.After(at) {
					at = r.nextCall
				}
				if at.Before(until) {
					until = at // wake up to renew in time
				}
				err = r.receive(ctx, until)
			}
			switch {
			case errors.Is(err, errWaited):
				if time.Now().Before(deadline) {
					continue
				}
				return nil, nil
			case err != nil:
				if err := r.failed(ctx, err); err != nil {
					return nil, err
				}
			}
			continue
		}
		if r.iter == nil {
			if err := r.getIterator(ctx); err != nil {
				if err := r.failed(ctx, err); err != nil {
					return nil, err
				}
			}
			continue
		}
		if err := r.getRecords(ctx); err != nil {
			if err := r.failed(ctx, err); err != nil {
				return nil, err
			}
			continue
		}
		if r.caughtUp && len(r.pending) == 0 && !r.ended {
			// Nothing more to read now: let the runtime look around (barriers,
			// idleness) instead of waiting out the second.
			return nil, nil
		}
	}
}

// failed decides what a failed call means: a renewed iterator, a backoff, or
// the end of Read with an error.
func (r *shardReader) failed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	r.failures++
	switch {
	case IsExpiredIterator(err):
		r.noteFailure(err)
		r.src.cfg.Metrics.Retried(r.shard)
		r.iter = nil
		// The rejected call counts against the 5 calls/s too: the call after
		// the renewal waits its turn.
		if earliest := r.lastCall.Add(MinCallInterval); r.nextCall.Before(earliest) {
			r.nextCall = earliest
		}
		if r.failures > r.cfg.MaxRetries {
			return r.giveUp(err)
		}
		r.log.Debug("iterator expired; renewing", "after", r.last.String())
		return nil
	case IsRetryable(err), r.cfg.Consumer != "" && kinesiserr.Code(err) == kinesiserr.ResourceInUse:
		// SubscribeToShard says ResourceInUse while the shard's previous
		// subscription is still open: retry after a while.
		r.noteFailure(err)
		if IsThrottle(err) {
			r.cfg.Metrics.Throttled(r.shard)
		}
		if r.failures > r.cfg.MaxRetries {
			return r.giveUp(err)
		}
		r.cfg.Metrics.Retried(r.shard)
		wait := kinesiserr.Backoff(r.failures-1, r.cfg.MinBackoff, r.cfg.MaxBackoff, nil)
		r.nextCall = time.Now().Add(wait)
		if earliest := r.lastCall.Add(MinCallInterval); r.nextCall.Before(earliest) {
			r.nextCall = earliest // a throttled call counts against the 5 calls/s too
		}
		r.log.Debug("retrying", "err", err, "attempt", r.failures, "backoff", wait)
		return nil
	default:
		return err
	}
}

// noteFailure counts a failed call by kind and, when the streak of failures
// is worth it (the third in a row, a new kind of failure, every five
// minutes), logs it at warn with its cause and shows it in Trouble.
func (r *shardReader) noteFailure(err error) {
	kind := kinesiserr.Kind(err)
	if r.fm != nil {
		r.fm.ReadFailed(r.shard, kind)
	}
	if !r.streak.Fail(time.Now(), err) {
		return
	}
	op, cause := callName(err), kinesiserr.Describe(err)
	since := r.streak.Since()
	r.src.setTrouble(r.shard, fmt.Sprintf("%s failing since %s (%s): %s", op, since.Format(time.TimeOnly), kind, cause))
	r.log.Warn(fmt.Sprintf("shard %s: %s failing, retrying: %s", r.shard, op, cause),
		"kind", kind, "failures", r.streak.Failures(), "failing_for", kinesiserr.Round(time.Since(since)), "err", err)
}

// noteSuccess ends a streak of failures: a reported one with an info line,
// and its Trouble goes.
func (r *shardReader) noteSuccess() {
	if r.streak.Failures() == 0 {
		return
	}
	lasted, n, reported := r.streak.Succeed(time.Now())
	if !reported {
		return
	}
	r.src.setTrouble(r.shard, "")
	r.log.Info(fmt.Sprintf("shard %s: reading again after %v of failures", r.shard, kinesiserr.Round(lasted)), "failures", n)
}

// giveUp is Read's error once MaxRetries consecutive failures were retried.
func (r *shardReader) giveUp(err error) error {
	r.src.setTrouble(r.shard, "")
	return fmt.Errorf("kinesis: shard %s: %w", r.shard, kinesiserr.GaveUp(r.failures, r.streak.Since(), err, nil))
}

// callName names the API call that err is the failure of ("GetRecords"), or
// "reading" when the error does not say.
func callName(err error) string {
	if oe, ok := errors.AsType[*smithy.OperationError](err); ok && oe.OperationName != "" {
		return oe.OperationName
	}
	return "reading"
}

// getIterator asks for an iterator after the last record read, else after the
// checkpointed position, else at TRIM_HORIZON for a shard opened at
// pipeline.Earliest, else at the configured start.
func (r *shardReader) getIterator(ctx context.Context) error {
	in := &kinesis.GetShardIteratorInput{
		StreamName: r.src.stream.name, StreamARN: r.src.stream.arn, ShardId: aws.String(r.shard),
	}
	switch {
	case r.last.Seq != "":
		// Every record of the answers so far was processed whole.
		in.ShardIteratorType = types.ShardIteratorTypeAfterSequenceNumber
		in.StartingSequenceNumber = aws.String(r.last.Seq)
	case r.after.Seq != "":
		in.ShardIteratorType = types.ShardIteratorTypeAtSequenceNumber
		in.StartingSequenceNumber = aws.String(r.after.Seq)
	case r.earliest:
		in.ShardIteratorType = types.ShardIteratorTypeTrimHorizon
	case !r.latestAt.IsZero():
		// A LATEST iterator expired before any record came: renewing it as
		// LATEST would skip what arrived meanwhile.
		in.ShardIteratorType = types.ShardIteratorTypeAtTimestamp
		in.Timestamp = aws.Time(r.latestAt)
	default:
		in.ShardIteratorType = r.src.start.typ
		if in.ShardIteratorType == types.ShardIteratorTypeAtTimestamp {
			in.Timestamp = aws.Time(r.src.start.at)
		}
	}
	started := time.Now()
	callCtx, cancel := context.WithTimeout(ctx, r.cfg.CallTimeout)
	defer cancel()
	out, err := r.src.api.GetShardIterator(callCtx, in, ownRetries)
	if err != nil {
		return fmt.Errorf("kinesis: shard %s: get shard iterator: %w", r.shard, err)
	}
	if out.ShardIterator == nil {
		// A closed shard whose records have all expired.
		r.end(pipeline.ErrShardEnd)
		return nil
	}
	if in.ShardIteratorType == types.ShardIteratorTypeLatest {
		r.latestAt = started
	}
	r.iter = out.ShardIterator
	return nil
}

// getRecords makes one GetRecords call, queues its records and paces the next
// call.
func (r *shardReader) getRecords(ctx context.Context) error {
	started := time.Now()
	r.lastCall = started
	callCtx, cancel := context.WithTimeout(ctx, r.cfg.CallTimeout)
	defer cancel()
	out, err := r.src.api.GetRecords(callCtx, &kinesis.GetRecordsInput{
		ShardIterator: r.iter, Limit: aws.Int32(int32(r.cfg.MaxRecordsPerCall)), StreamARN: r.src.stream.arn,
	}, ownRetries)
	if err != nil {
		return fmt.Errorf("kinesis: shard %s: get records: %w", r.shard, err)
	}
	answered := time.Now()
	r.failures = 0
	r.noteSuccess()
	r.iter = out.NextShardIterator
	bytes, cut := r.take(out.Records)
	if r.iter == nil && !cut {
		r.end(pipeline.ErrShardEnd) // closed and drained
	}
	behind := aws.ToInt64(out.MillisBehindLatest)
	r.cfg.Metrics.MillisBehind(r.shard, behind)
	if n := len(out.Records); n > 0 {
		if t := out.Records[n-1].ApproximateArrivalTimestamp; t != nil {
			r.cfg.Metrics.IteratorAge(r.shard, max(0, started.Sub(*t)))
			r.noteHeadroom(started, *t)
		}
	}

	// Idle and StopAt.Time both need "caught up and empty".
	wasCaughtUp := r.caughtUp
	r.caughtUp = behind == 0 && len(out.Records) == 0
	if r.caughtUp && !wasCaughtUp {
		r.emptySince = started
	}
	r.noteLoad(started, r.caughtUp)
	r.endCaughtUp(started)

	// Pace: fast while behind or the answer was full, PollInterval once caught
	// up; never more than 5 calls/s, never more than ReadShare of 2 MB/s. The
	// service counts the bytes when it answers, so their budget runs from the
	// answer's arrival (after a 10 MB answer, the next 5 s are throttled).
	gap := r.cfg.PollInterval
	if behind > 0 || len(out.Records) >= r.cfg.MaxRecordsPerCall {
		gap = MinCallInterval
	}
	budget := time.Duration(float64(bytes) / (r.cfg.ReadShare * ShardReadBytesPerSecond) * float64(time.Second))
	r.nextCall = started.Add(max(gap, MinCallInterval))
	if b := answered.Add(budget); bytes > 0 && b.After(r.nextCall) {
		r.nextCall = b
	}
	return nil
}

// endCaughtUp ends a caught-up bounded read that was asked for at now past
// StopAt.Time, or that has its tip behind it: the tip was in the shard
// before this reader's iterator, so the read began after it (a --from past
// the tip).
func (r *shardReader) endCaughtUp(now time.Time) {
	if !r.caughtUp || r.ended {
		return
	}
	if st := r.cfg.StopAt; r.atTip || st != nil && !st.Time.IsZero() && now.After(st.Time) {
		r.reachBound()
	}
}

// reachBound ends a bounded read at its bound; a backfill (Config.Backfill)
// has then read its shard up to the tip and reads on, unbounded.
func (r *shardReader) reachBound() {
	if !r.cfg.Backfill {
		r.end(pipeline.ErrBoundReached)
		return
	}
	r.bound, r.atTip = nil, false
	r.src.passedTip(r.shard)
}

// take turns the records of one answer into queued batches and returns their
// bytes as Kinesis counts them against the read limit (data and partition
// key, aggregates whole), and whether a StopAt bound cut the answer short
// (records or user records after the bound were left out).
func (r *shardReader) take(records []types.Record) (bytes int, cut bool) {
	users, userBytes := 0, 0
	for i := range records {
		rec := &records[i]
		seq := aws.ToString(rec.SequenceNumber)
		var arrival int64
		if rec.ApproximateArrivalTimestamp != nil {
			arrival = rec.ApproximateArrivalTimestamp.UnixMilli()
			if st := r.cfg.StopAt; st != nil && !st.Time.IsZero() && rec.ApproximateArrivalTimestamp.After(st.Time) {
				r.end(pipeline.ErrBoundReached)
				cut = true
				break
			}
		}
		if r.bound != nil && compareSeq(seq, r.bound.Seq) > 0 {
			if r.reachBound(); r.ended {
				cut = true
				break
			}
		}
		bytes += len(rec.Data) + len(aws.ToString(rec.PartitionKey))
		r.noteArrival(rec)
		skipUpTo := int64(-1) // sub-records <= skipUpTo were read before the restart
		if r.skip {
			r.skip = false
			if seq == r.after.Seq {
				skipUpTo = r.after.N
			} else if err := r.resumedPast(rec); err != nil {
				r.end(err)
				cut = true
				break
			}
		}
		pk := aws.ToString(rec.PartitionKey)
		if !isAggregated(rec.Data) {
			r.last = pipeline.Position{Seq: seq}
			if skipUpTo < 0 {
				r.flushDead()
				r.raw.Append(rec.Data, pk, r.last, arrival)
				users++
				userBytes += len(rec.Data)
			}
		} else if r.takeAggregate(rec, seq, arrival, skipUpTo, &users, &userBytes) {
			cut = true
		}
		if !r.ended && r.bound != nil && compareSeq(seq, r.bound.Seq) >= 0 {
			r.reachBound() // at the bound: nothing after it belongs to a replay
		}
		if r.ended {
			cut = cut || i < len(records)-1
			break
		}
	}
	r.flushRaw()
	r.flushDead()
	if users > 0 {
		r.cfg.Metrics.RecordsIn(r.shard, users, userBytes)
		r.caughtUp, r.emptySince = false, time.Time{}
	}
	return bytes, cut
}

// end marks the shard ended: Read hands out what is queued, then err.
func (r *shardReader) end(err error) {
	r.ended, r.endErr = true, err
	if r.cfg.Backfill && errors.Is(err, pipeline.ErrShardEnd) {
		r.src.passedTip(r.shard) // a closed shard, read to its end
	}
}

// takeAggregate deaggregates the KPL aggregate rec into the raw builder, or
// queues it as a dead letter when it is corrupt. It reports whether a StopAt
// bound left user records of rec out.
func (r *shardReader) takeAggregate(rec *types.Record, seq string, arrival, skipUpTo int64, users, userBytes *int) (cut bool) {
	atBound := r.bound != nil && seq == r.bound.Seq && !r.cfg.Backfill // a backfill reads on past it
	err := deaggregate(rec.Data, func(sub int64, key string, data []byte) error {
		if atBound && sub > r.bound.N {
			return errStopped
		}
		r.last = pipeline.Position{Seq: seq, N: sub}
		if sub <= skipUpTo {
			return nil
		}
		r.flushDead()
		r.raw.Append(data, key, r.last, arrival)
		*users++
		*userBytes += len(data)
		return nil
	})
	switch {
	case errors.Is(err, errStopped):
		r.end(pipeline.ErrBoundReached)
		return true
	case err != nil:
		r.last = pipeline.Position{Seq: seq}
		if skipUpTo >= 0 {
			return false // dead-lettered before the restart
		}
		r.log.Warn("corrupt KPL aggregate to dead letters", "seq", seq, "err", err)
		r.flushRaw()
		r.dead.Append(r.shard, r.last, fmt.Errorf("%w: %w", ErrCorruptAggregate, err), rec.Data)
	}
	return false
}

func (r *shardReader) flushRaw() {
	if b := r.raw.NewBatch(r.shard); b != nil {
		r.pending = append(r.pending, b)
	}
}

func (r *shardReader) flushDead() {
	if b := r.dead.NewBatch(r.shard); b != nil {
		r.pending = append(r.pending, b)
	}
}

// Idle reports whether the shard has been caught up and empty for IdleTimeout.
func (r *shardReader) Idle() bool {
	return r.caughtUp && len(r.pending) == 0 && time.Since(r.emptySince) >= r.cfg.IdleTimeout
}

// Close releases the reader's queued batches and builders.
func (r *shardReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.src.setTrouble(r.shard, "")
	r.src.hot.remove(r.shard)
	r.end(errReaderClosed)
	r.closeSub()
	r.cancelSub()
	for _, b := range r.pending {
		b.Release()
	}
	r.pending = nil
	r.raw.Release()
	r.dead.Release()
	return nil
}

// sleepUntil waits until t or until ctx is done.
func sleepUntil(ctx context.Context, t time.Time) error {
	return kinesiserr.Sleep(ctx, time.Until(t))
}

// compareSeq compares two decimal sequence numbers (up to 128 bits).
func compareSeq(a, b string) int {
	a, b = trimZeros(a), trimZeros(b)
	switch {
	case len(a) != len(b):
		return cmpInt(len(a), len(b))
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func trimZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}

func cmpInt(a, b int) int {
	if a < b {
		return -1
	}
	return 1
}
