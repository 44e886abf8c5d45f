package kinesis

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardflow/shardflow/pipeline"
)

// Records expire from a stream after its retention period, read or not. Two
// things guard a job against losing them silently: a warning and
// RetentionMetrics while a shard's reading nears the limit, and a check, on
// resuming from a checkpoint, that the checkpointed record is still there.

// resumedPast is called with the first record read after the checkpointed
// position r.after, when that record is not the one at r.after. A reader
// resumes AT_SEQUENCE_NUMBER of r.after, so the first record can only be
// another when the checkpointed one has expired: Kinesis then starts at the
// oldest record it retains, and the records between were never read. It
// returns the *pipeline.ExpiredError that ends the read (wrapping
// ErrExpired), or nil with a warning when the configuration accepts the loss.
func (r *shardReader) resumedPast(rec *types.Record) error {
	gap := &pipeline.ExpiredError{Shard: r.shard, After: r.after, Oldest: aws.ToTime(rec.ApproximateArrivalTimestamp)}
	if !r.cfg.AcceptExpired {
		return expiredError{gap}
	}
	r.log.Warn(fmt.Sprintf("shard %s: going on past expired records (accepted): %v", r.shard, gap), "after", r.after.String())
	if m, ok := r.cfg.Metrics.(RetentionMetrics); ok {
		m.ExpiredResumed(r.shard)
	}
	return nil
}

// expiredError is what Read returns when the checkpointed record expired: the
// runtime fills the ExpiredError in (its Since), so its message is made when
// it is read.
type expiredError struct{ *pipeline.ExpiredError }

func (e expiredError) Error() string {
	return fmt.Sprintf("%v: %v; to go on from the oldest retained record without them, set AcceptExpired (--accept-expired); to recover them, replay them from an archive",
		ErrExpired, e.ExpiredError)
}

func (e expiredError) Unwrap() []error { return []error{ErrExpired, e.ExpiredError} }

// noteHeadroom reports, after an answer whose newest record arrived at
// newest, how long that record has before the retention expires it, and
// warns once each time the shard falls within Config.RetentionMargin.
func (r *shardReader) noteHeadroom(now, newest time.Time) {
	retention := r.src.retentionPeriod()
	if retention <= 0 {
		return
	}
	headroom := retention - now.Sub(newest)
	if m, ok := r.cfg.Metrics.(RetentionMetrics); ok {
		m.RetentionHeadroom(r.shard, headroom)
	}
	near := headroom < r.cfg.RetentionMargin
	if near && !r.nearExpiry {
		r.log.Warn(fmt.Sprintf("shard %s is read %v before its records expire (the stream keeps %v): records not read in time are lost",
			r.shard, headroom.Round(time.Minute), retention), "headroom", headroom, "margin", r.cfg.RetentionMargin)
	}
	r.nearExpiry = near
}

// retentionPeriod is the stream's retention period, 0 until a listing has
// learned it.
func (s *Source) retentionPeriod() time.Duration {
	s.idMu.Lock()
	defer s.idMu.Unlock()
	return s.retention
}
