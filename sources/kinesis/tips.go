package kinesis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"golang.org/x/sync/errgroup"

	"github.com/shardflow/shardflow/internal/kinesiserr"
	"github.com/shardflow/shardflow/pipeline"
)

// The bound of StopAt.Tips: where each shard ends, captured once before any
// record is read and kept in the checkpoints.
//
// A shard's tip is found by reading it from a little before the source's
// notion of now (AT_TIMESTAMP now - tipMargin) until GetRecords says
// MillisBehindLatest 0 with an answer that is not full, and one more call
// after that (records that arrived in the same millisecond as the last one
// seen); the last record seen is the tip. When that finds no record (a quiet
// shard, or a clock that runs ahead: the server refuses a timestamp in its
// future), the capture looks tipStep times further back, and finally from
// TRIM_HORIZON. The local clock only decides where the search starts, so it
// costs time, never records. A read that finds itself more than
// tipJumpAfter behind (a clock behind, or far ahead and looking back by
// tipStep) looks again, once, a little before the server's own now: the
// arrival time of the last record it got plus MillisBehindLatest.
//
// First, one GetRecords of a record from TRIM_HORIZON tells an empty shard
// (no record, MillisBehindLatest 0), which is read not at all. kinesalite
// never answers an AT_TIMESTAMP after a shard's last record, so a seek that
// takes longer than tipSeekTimeout also looks further back: also safe, as
// looking further back always is.
//
// Sequence numbers, unlike arrival times, are exact and compare the same on
// every machine: the replay ends at the same record however skewed the
// clock, and a resumed replay ends at the tips of its checkpoint.

// tipsVersion is the version of tipSet's format this source writes and
// reads; a checkpoint with a later version is refused.
const tipsVersion = 1

const (
	// tipMargin is how far before now the capture first looks for a tip.
	tipMargin = time.Minute
	// tipStep is the factor by which each further look goes back.
	tipStep = 8
	// maxLookback bounds the look back when the stream's retention is not
	// known: Kinesis retains at most 365 days.
	maxLookback = 365 * 24 * time.Hour
	// tipReaders is how many shards the capture reads at once.
	tipReaders = 16
	// tipSeekTimeout bounds an AT_TIMESTAMP GetShardIterator of the capture.
	tipSeekTimeout = 2 * time.Second
)

// errSeekTimedOut is an AT_TIMESTAMP seek of the capture that took longer
// than tipSeekTimeout.
var errSeekTimedOut = errors.New("kinesis: AT_TIMESTAMP seek timed out")

// tipSet is where a replay "to now" ends each shard, as its checkpoints
// record it (the "tips" of the source's identity).
type tipSet struct {
	// V is the format's version (tipsVersion).
	V int `json:"v"`
	// Open holds the shards open at the capture, each with the sequence
	// number of its last record then, or "" when it had none.
	Open map[string]string `json:"open"`
	// Closed holds the shards that were closed at the capture (or closed
	// during it): they are read to their end.
	Closed []string `json:"closed,omitempty"`
	// Taken is when the capture ended by the clock of the machine that took
	// it, for people reading the checkpoint; nothing compares it.
	Taken time.Time `json:"taken"`
}

// tipBound is what a tipSet says of one shard: a bound after the record at
// pos, no bound (a closed shard, read to its end), or nothing to read.
type tipBound struct {
	pos     pipeline.Position
	bounded bool // end after pos
	none    bool // read nothing
}

// bound is the bound of shard: its tip if it was open at the capture (the
// whole record: a KPL aggregate at the tip is read to its last user
// record), none for an open shard without records or a shard that did not
// exist at the capture, unbounded for a shard that was closed.
func (t *tipSet) bound(shard string) tipBound {
	if seq, ok := t.Open[shard]; ok {
		if seq == "" {
			return tipBound{none: true}
		}
		return tipBound{pos: pipeline.Position{Seq: seq, N: math.MaxInt64}, bounded: true}
	}
	if slices.Contains(t.Closed, shard) {
		return tipBound{}
	}
	return tipBound{none: true}
}

// awaitTips returns the source's tips: resumed from a checkpoint, captured
// by an earlier call, or captured now. Only one caller captures; the others
// wait for it, and get nil (and no error) at deadline while it lasts, so
// that their Read returns now and then.
func (s *Source) awaitTips(ctx context.Context, deadline time.Time) (*tipSet, error) {
	wait := time.NewTimer(time.Until(deadline))
	defer wait.Stop()
	select {
	case s.tipsSem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-wait.C:
		return nil, nil
	}
	defer func() { <-s.tipsSem }()
	s.idMu.Lock()
	t := s.tips
	s.idMu.Unlock()
	if t != nil {
		return t, nil
	}
	started := time.Now()
	t, err := s.captureTips(ctx)
	if err != nil {
		return nil, fmt.Errorf("kinesis: capture the shards' tips: %w", err)
	}
	s.idMu.Lock()
	s.tips = t
	s.idMu.Unlock()
	s.cfg.Logger.Info("replay bounded at the shards' tips", "stream", s.cfg.Stream,
		"open", len(t.Open), "closed", len(t.Closed), "took", time.Since(started).Round(time.Millisecond))
	return t, nil
}

// captureTips lists the stream's shards and finds the tip of each open one.
func (s *Source) captureTips(ctx context.Context) (*tipSet, error) {
	listed, err := s.listOpenClosed(ctx)
	if err != nil {
		return nil, err
	}
	t := &tipSet{V: tipsVersion, Open: map[string]string{}}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(tipReaders)
	for _, sh := range listed {
		if sh.closed {
			t.Closed = append(t.Closed, sh.id)
			continue
		}
		g.Go(func() error {
			seq, closed, err := s.shardTip(gctx, sh.id)
			if err != nil {
				return fmt.Errorf("shard %s: %w", sh.id, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if closed {
				t.Closed = append(t.Closed, sh.id)
			} else {
				t.Open[sh.id] = seq
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	slices.Sort(t.Closed)
	t.Taken = time.Now().UTC()
	return t, nil
}

type listedShard struct {
	id     string
	closed bool
}

// listOpenClosed lists the stream's shards and whether each is closed (has
// an ending sequence number).
func (s *Source) listOpenClosed(ctx context.Context) ([]listedShard, error) {
	var shards []listedShard
	in := &kinesis.ListShardsInput{StreamName: s.stream.name, StreamARN: s.stream.arn, MaxResults: aws.Int32(1000)}
	for {
		var out *kinesis.ListShardsOutput
		err := s.call(ctx, fmt.Sprintf("list shards of stream %q", s.cfg.Stream), func(ctx context.Context) (err error) {
			out, err = s.api.ListShards(ctx, in, ownRetries)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, sh := range out.Shards {
			closed := sh.SequenceNumberRange != nil && aws.ToString(sh.SequenceNumberRange.EndingSequenceNumber) != ""
			shards = append(shards, listedShard{id: aws.ToString(sh.ShardId), closed: closed})
		}
		if aws.ToString(out.NextToken) == "" {
			return shards, nil
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken, MaxResults: aws.Int32(1000)}
	}
}

// shardTip returns the sequence number of the last record of shard, "" when
// it has none, or closed when the shard is (or became) closed.
func (s *Source) shardTip(ctx context.Context, shard string) (seq string, closed bool, err error) {
	var lastCall time.Time
	if empty, closed, err := s.emptyShard(ctx, shard, &lastCall); err != nil || empty || closed {
		return "", closed, err
	}
	lookback := s.retentionOrMax()
	now, jumped := s.clock(), false
	for margin := tipMargin; ; margin *= tipStep {
		in := &kinesis.GetShardIteratorInput{StreamName: s.stream.name, StreamARN: s.stream.arn, ShardId: aws.String(shard)}
		if margin >= lookback {
			in.ShardIteratorType = types.ShardIteratorTypeTrimHorizon
		} else {
			in.ShardIteratorType = types.ShardIteratorTypeAtTimestamp
			in.Timestamp = aws.Time(now.Add(-margin))
		}
		if err := pace(ctx, &lastCall); err != nil {
			return "", false, err
		}
		out, err := s.seek(ctx, in)
		switch {
		case errors.Is(err, errSeekTimedOut) ||
			err != nil && in.ShardIteratorType == types.ShardIteratorTypeAtTimestamp && kinesiserr.Code(err) == "InvalidArgumentException":
			// A timestamp in the server's future (this clock runs ahead), or
			// one that kinesalite does not answer.
			s.cfg.Logger.Debug("tip capture: looking further back", "shard", shard, "at", in.Timestamp, "err", err)
			continue
		case err != nil:
			return "", false, err
		case out.ShardIterator == nil:
			return "", true, nil // closed, every record expired
		}
		tip, err := s.readToTip(ctx, shard, out.ShardIterator, &lastCall, !jumped)
		switch {
		case err != nil:
			return "", false, err
		case !tip.jumpTo.IsZero():
			// Far behind: the server's time, not this clock, says where the
			// tip is. Look from a little before it, once.
			s.cfg.Logger.Debug("tip capture: far behind, looking near the server's now", "shard", shard, "server_now", tip.jumpTo)
			now, jumped, margin = tip.jumpTo, true, tipMargin/tipStep
			continue
		case tip.expired:
			margin /= tipStep // the same look again
			continue
		case tip.closed || tip.seq != "" || in.ShardIteratorType == types.ShardIteratorTypeTrimHorizon:
			return tip.seq, tip.closed, nil
		}
	}
}

// tipRead is what one read towards a shard's tip found.
type tipRead struct {
	seq     string    // the last sequence number seen, "" for none
	closed  bool      // the shard ended
	jumpTo  time.Time // far behind: the server's now, by the answer's arrival time and MillisBehindLatest
	expired bool      // the iterator expired (a call delayed by retries): look again
}

// tipJumpAfter is how far behind (MillisBehindLatest) a read towards the tip
// must be for the capture to look again near the server's now.
const tipJumpAfter = 10 * time.Minute

// readToTip reads shard from iter until it is caught up. With mayJump, an
// answer more than tipJumpAfter behind ends the read with the server's now.
func (s *Source) readToTip(ctx context.Context, shard string, iter *string, lastCall *time.Time, mayJump bool) (tipRead, error) {
	limit := s.cfg.MaxRecordsPerCall
	confirming := false
	var tip tipRead
	for {
		if err := pace(ctx, lastCall); err != nil {
			return tipRead{}, err
		}
		var out *kinesis.GetRecordsOutput
		err := s.call(ctx, "get records of shard "+shard, func(ctx context.Context) (err error) {
			out, err = s.api.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(int32(limit)), StreamARN: s.stream.arn}, ownRetries)
			return err
		})
		if IsExpiredIterator(err) {
			return tipRead{expired: true}, nil
		}
		if err != nil {
			return tipRead{}, err
		}
		bytes := 0
		for _, rec := range out.Records {
			bytes += len(rec.Data) + len(aws.ToString(rec.PartitionKey))
		}
		behind := time.Duration(aws.ToInt64(out.MillisBehindLatest)) * time.Millisecond
		if n := len(out.Records); n > 0 {
			last := out.Records[n-1]
			tip.seq = aws.ToString(last.SequenceNumber)
			if mayJump && behind > tipJumpAfter && last.ApproximateArrivalTimestamp != nil && out.NextShardIterator != nil {
				return tipRead{jumpTo: last.ApproximateArrivalTimestamp.Add(behind)}, nil
			}
		}
		if out.NextShardIterator == nil {
			tip.closed = true
			return tip, nil
		}
		iter = out.NextShardIterator
		if behind == 0 && len(out.Records) < limit {
			if len(out.Records) == 0 || confirming {
				return tip, nil
			}
			confirming = true
		}
		// Stay within the shard's read throughput, as the readers do.
		if budget := time.Duration(float64(bytes) / (s.cfg.ReadShare * ShardReadBytesPerSecond) * float64(time.Second)); budget > MinCallInterval {
			*lastCall = time.Now().Add(budget - MinCallInterval)
		}
	}
}

// seek asks for the iterator in, an AT_TIMESTAMP one within tipSeekTimeout
// (errSeekTimedOut beyond).
func (s *Source) seek(ctx context.Context, in *kinesis.GetShardIteratorInput) (*kinesis.GetShardIteratorOutput, error) {
	var out *kinesis.GetShardIteratorOutput
	err := s.call(ctx, "get shard iterator of shard "+aws.ToString(in.ShardId), func(callCtx context.Context) (err error) {
		if in.ShardIteratorType != types.ShardIteratorTypeAtTimestamp {
			out, err = s.api.GetShardIterator(callCtx, in, ownRetries)
			return err
		}
		seekCtx, cancel := context.WithTimeout(callCtx, tipSeekTimeout)
		defer cancel()
		out, err = s.api.GetShardIterator(seekCtx, in, ownRetries)
		if err != nil && seekCtx.Err() != nil && callCtx.Err() == nil {
			return errSeekTimedOut
		}
		return err
	})
	return out, err
}

// emptyShard reads one record of shard from TRIM_HORIZON: empty when there
// is none and the answer is caught up, closed when the shard is closed and
// has no record left.
func (s *Source) emptyShard(ctx context.Context, shard string, lastCall *time.Time) (empty, closed bool, err error) {
	out, err := s.seek(ctx, &kinesis.GetShardIteratorInput{StreamName: s.stream.name, StreamARN: s.stream.arn, ShardId: aws.String(shard),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil || out.ShardIterator == nil {
		return false, out != nil, err
	}
	if err := pace(ctx, lastCall); err != nil {
		return false, false, err
	}
	var recs *kinesis.GetRecordsOutput
	err = s.call(ctx, "get records of shard "+shard, func(ctx context.Context) (err error) {
		recs, err = s.api.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: out.ShardIterator, Limit: aws.Int32(1), StreamARN: s.stream.arn}, ownRetries)
		return err
	})
	if err != nil {
		return false, false, err
	}
	if len(recs.Records) > 0 {
		return false, false, nil
	}
	if recs.NextShardIterator == nil {
		return false, true, nil
	}
	return aws.ToInt64(recs.MillisBehindLatest) == 0, false, nil
}

// pace waits until MinCallInterval after *last, then sets *last to now.
func pace(ctx context.Context, last *time.Time) error {
	if err := kinesiserr.Sleep(ctx, time.Until(last.Add(MinCallInterval))); err != nil {
		return err
	}
	*last = time.Now()
	return nil
}

// retentionOrMax is the stream's retention period when a listing learned
// it, else the longest Kinesis allows.
func (s *Source) retentionOrMax() time.Duration {
	if r := s.retentionPeriod(); r > 0 {
		return r
	}
	return maxLookback
}

// boundByTips reports whether the source ends its shards at their tips.
func (s *Source) boundByTips() bool { return s.cfg.StopAt != nil && s.cfg.StopAt.Tips }

// keepsTips reports whether the source captures tips and keeps them in its
// identity: to end at them, or to backfill up to them.
func (s *Source) keepsTips() bool { return s.boundByTips() || s.cfg.Backfill }

// passedTip records that a backfilling reader has read shard up to its tip
// (or found nothing to backfill), and logs the end of the backfill when it
// was the last shard of the tips.
func (s *Source) passedTip(shard string) {
	s.idMu.Lock()
	if s.passed == nil {
		s.passed = map[string]bool{}
	}
	if s.passed[shard] {
		s.idMu.Unlock()
		return
	}
	s.passed[shard] = true
	passed, total := s.backfillLocked()
	s.idMu.Unlock()
	s.cfg.Logger.Debug("shard backfilled up to its tip", "stream", s.cfg.Stream, "shard", shard)
	if total > 0 && passed == total {
		s.cfg.Logger.Info("backfill done: every shard read up to its tip, following the stream live", "stream", s.cfg.Stream, "shards", total)
	}
}

// Backfill reports, for a source with Config.Backfill, how many of the
// shards that the tips hold (open and closed at their capture) have been
// read up to their tip, of how many; 0, 0 before the tips are known.
func (s *Source) Backfill() (passed, total int) {
	s.idMu.Lock()
	defer s.idMu.Unlock()
	return s.backfillLocked()
}

func (s *Source) backfillLocked() (passed, total int) {
	if s.tips == nil {
		return 0, 0
	}
	for sh := range s.tips.Open {
		if s.passed[sh] {
			passed++
		}
	}
	for _, sh := range s.tips.Closed {
		if s.passed[sh] {
			passed++
		}
	}
	return passed, len(s.tips.Open) + len(s.tips.Closed)
}
