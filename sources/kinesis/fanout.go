package kinesis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/schemas"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"

	"github.com/shardflow/shardflow/internal/kinesiserr"
	"github.com/shardflow/shardflow/pipeline"
)

// FanOutAPI is what enhanced fan-out needs besides API. *kinesis.Client
// satisfies it.
type FanOutAPI interface {
	API
	DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
	RegisterStreamConsumer(ctx context.Context, in *kinesis.RegisterStreamConsumerInput, optFns ...func(*kinesis.Options)) (*kinesis.RegisterStreamConsumerOutput, error)
	DescribeStreamConsumer(ctx context.Context, in *kinesis.DescribeStreamConsumerInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamConsumerOutput, error)
	SubscribeToShard(ctx context.Context, in *kinesis.SubscribeToShardInput, optFns ...func(*kinesis.Options)) (*kinesis.SubscribeToShardOutput, error)
}

var _ FanOutAPI = (*kinesis.Client)(nil)

// subscribeInterval is the least time between two SubscribeToShard calls of
// one shard and consumer (the service allows one per second).
const subscribeInterval = time.Second

// DefaultSubscriptionRenewal is how long a reader reads one subscription
// before it opens the next one. The service ends a subscription after 5
// minutes; renewing at 4m30s, from the continuation of the last event taken,
// switches over without a lost or repeated record, and before the service
// breaks the stream in the middle of an event.
const DefaultSubscriptionRenewal = 4*time.Minute + 30*time.Second

// consumer returns the ARN of Config.Consumer, registering the consumer when
// it does not exist yet and waiting until it is ACTIVE. Every shard reader
// calls it; the first call does the work.
func (s *Source) consumer(ctx context.Context) (string, error) {
	s.consumerMu.Lock()
	defer s.consumerMu.Unlock()
	if s.consumerARN != "" {
		return s.consumerARN, nil
	}
	api := s.api.(FanOutAPI) // Validate checked it
	streamARN := s.knownARN()
	if streamARN == "" {
		out, err := api.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: s.stream.name})
		if err != nil {
			return "", fmt.Errorf("kinesis: describe stream %s: %w", s.cfg.Stream, err)
		}
		streamARN = aws.ToString(out.StreamDescriptionSummary.StreamARN)
	}
	name := aws.String(s.cfg.Consumer)
	var arn string
	reg, err := api.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(streamARN), ConsumerName: name})
	switch {
	case err == nil:
		arn = aws.ToString(reg.Consumer.ConsumerARN)
	case kinesiserr.Code(err) == kinesiserr.ResourceInUse: // registered before: use it
	default:
		return "", fmt.Errorf("kinesis: register consumer %s: %w", s.cfg.Consumer, err)
	}
	for attempt := 0; ; attempt++ {
		in := &kinesis.DescribeStreamConsumerInput{StreamARN: aws.String(streamARN), ConsumerName: name}
		if arn != "" {
			in = &kinesis.DescribeStreamConsumerInput{ConsumerARN: aws.String(arn)}
		}
		out, err := api.DescribeStreamConsumer(ctx, in)
		if err != nil && !IsRetryable(err) {
			return "", fmt.Errorf("kinesis: describe consumer %s: %w", s.cfg.Consumer, err)
		}
		if err == nil && out.ConsumerDescription.ConsumerStatus == types.ConsumerStatusActive {
			s.consumerARN = aws.ToString(out.ConsumerDescription.ConsumerARN)
			s.cfg.Logger.Info("enhanced fan-out consumer ready", "consumer", s.cfg.Consumer, "arn", s.consumerARN)
			return s.consumerARN, nil
		}
		if err := kinesiserr.Sleep(ctx, min(kinesiserr.Backoff(attempt, 50*time.Millisecond, time.Second, nil), time.Second)); err != nil {
			return "", fmt.Errorf("kinesis: consumer %s not active: %w", s.cfg.Consumer, err)
		}
	}
}

// ownEventCodec gives one SubscribeToShard call a protocol of its own. The
// SDK's awsJson protocol keeps one event-stream decoder and payload buffer per
// client, so event streams of two shards on one client decode into the same
// buffer concurrently (a data race found with -race against kinesis-local,
// aws-sdk-go-v2/service/kinesis v1.56.13, smithy-go v1.28.9).
func ownEventCodec(o *kinesis.Options) { o.Protocol = awsjson.New11(schemas.Kinesis_20131202) }

// subscription is one SubscribeToShard event stream.
type subscription interface {
	Events() <-chan types.SubscribeToShardEventStream
	Close() error
	Err() error
}

// eventSubscriber is implemented by test fakes instead of SubscribeToShard,
// whose output's event stream cannot be built outside the SDK.
type eventSubscriber interface {
	subscribeEvents(ctx context.Context, in *kinesis.SubscribeToShardInput) (subscription, error)
}

// subscribe opens a subscription and reads it from now on.
func (r *shardReader) subscribe(ctx context.Context) error {
	sub, cancel, err := r.openSub(ctx)
	if err != nil {
		return err
	}
	r.sub, r.subCancel, r.subStarted = sub, cancel, time.Now()
	return nil
}

// renewDue reports whether the subscription has been read long enough to be
// renewed, and the pacing of SubscribeToShard allows it now.
func (r *shardReader) renewDue(now time.Time) bool {
	return r.sub != nil && !now.Before(r.renewAt()) && !now.Before(r.nextCall)
}

// renewAt is when the current subscription should be renewed.
func (r *shardReader) renewAt() time.Time { return r.subStarted.Add(r.src.renewal) }

// renew replaces the current subscription before the service ends it: it
// closes the current one at an event boundary and opens the next from the
// continuation of the last event taken, so nothing is lost or repeated; the
// gap is one SubscribeToShard call. Opening the next one first is not
// portable: the service lets a subscription take over only 5 s after the
// previous one started, and kinesis-local refuses a second one outright
// (ResourceInUseException on the new stream). A failed renewal is retried as
// any failed subscription.
func (r *shardReader) renew(ctx context.Context) error {
	r.log.Debug("renewing subscription", "after", r.last.String(), "continuation", r.continuation,
		"age", time.Since(r.subStarted))
	r.closeSub()
	return r.subscribe(ctx)
}

// openSub opens a subscription after the last record read (or the
// continuation of the last event), else at the checkpoint, else at
// TRIM_HORIZON for a shard opened at pipeline.Earliest, else at the
// configured start. The call honours ctx and CallTimeout; the event stream
// then lives until cancel (closeSub) or Close.
func (r *shardReader) openSub(ctx context.Context) (subscription, context.CancelFunc, error) {
	arn, err := r.src.consumer(ctx)
	if err != nil {
		return nil, nil, err
	}
	pos := &types.StartingPosition{}
	switch after := r.last.Seq; {
	case r.skip:
		pos.Type, pos.SequenceNumber = types.ShardIteratorTypeAtSequenceNumber, aws.String(r.after.Seq)
	case after != "" || r.continuation != "":
		if compareSeq(r.continuation, after) > 0 {
			after = r.continuation
		}
		pos.Type, pos.SequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, aws.String(after)
	case r.earliest:
		pos.Type = types.ShardIteratorTypeTrimHorizon
	case !r.latestAt.IsZero():
		pos.Type, pos.Timestamp = types.ShardIteratorTypeAtTimestamp, aws.Time(r.latestAt)
	default:
		pos.Type = r.src.start.typ
		if pos.Type == types.ShardIteratorTypeAtTimestamp {
			pos.Timestamp = aws.Time(r.src.start.at)
		}
	}
	started := time.Now()
	r.nextCall = started.Add(subscribeInterval)
	// The event stream outlives this call, so its context is the reader's;
	// ctx and CallTimeout bound the call itself.
	subCtx, cancel := context.WithCancel(r.subCtx)
	stopCtx := context.AfterFunc(ctx, cancel)
	timer := time.AfterFunc(r.cfg.CallTimeout, cancel)
	in := &kinesis.SubscribeToShardInput{ConsumerARN: aws.String(arn), ShardId: aws.String(r.shard), StartingPosition: pos}
	var sub subscription
	if es, ok := r.src.api.(eventSubscriber); ok {
		sub, err = es.subscribeEvents(subCtx, in)
	} else {
		var out *kinesis.SubscribeToShardOutput
		if out, err = r.src.api.(FanOutAPI).SubscribeToShard(subCtx, in, ownRetries, ownEventCodec); err == nil {
			sub = out.GetStream()
		}
	}
	ctxLive, timerLive := stopCtx(), timer.Stop()
	switch {
	case err == nil && ctxLive && timerLive:
	case ctx.Err() != nil:
		err = ctx.Err()
	case !timerLive:
		// The call's own timeout, not the job's end: retryable.
		err = fmt.Errorf("no answer within %v: %w", r.cfg.CallTimeout, context.DeadlineExceeded)
	}
	if err != nil {
		if sub != nil {
			sub.Close()
		}
		cancel()
		return nil, nil, fmt.Errorf("kinesis: shard %s: subscribe: %w", r.shard, err)
	}
	if pos.Type == types.ShardIteratorTypeLatest {
		r.latestAt = started
	}
	return sub, cancel, nil
}

// errWaited says that Read's wait for an event reached its deadline.
var errWaited = errors.New("kinesis: no event before the deadline")

// receive waits for the next event of the subscription until deadline and
// takes its records.
func (r *shardReader) receive(ctx context.Context, deadline time.Time) error {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return errWaited
	case ev, ok := <-r.sub.Events():
		if !ok { // the subscription ended (5 minutes) or broke
			err := r.sub.Err()
			r.closeSub()
			if err != nil {
				return fmt.Errorf("kinesis: shard %s: subscription: %w", r.shard, err)
			}
			return nil
		}
		e, ok := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
		if !ok {
			return nil // an event type this SDK does not know
		}
		r.takeEvent(&e.Value)
		return nil
	}
}

func (r *shardReader) takeEvent(e *types.SubscribeToShardEvent) {
	r.failures = 0
	r.noteSuccess()
	_, cut := r.take(e.Records)
	behind := aws.ToInt64(e.MillisBehindLatest)
	now := time.Now()
	r.cfg.Metrics.MillisBehind(r.shard, behind)
	if n := len(e.Records); n > 0 {
		if t := e.Records[n-1].ApproximateArrivalTimestamp; t != nil {
			r.cfg.Metrics.IteratorAge(r.shard, max(0, now.Sub(*t)))
			r.noteHeadroom(now, *t)
		}
	}
	if c := aws.ToString(e.ContinuationSequenceNumber); c != "" {
		r.continuation = c
	} else if (len(e.ChildShards) > 0 || e.ContinuationSequenceNumber == nil) && !cut {
		r.end(pipeline.ErrShardEnd) // the shard is closed and drained
	}
	wasCaughtUp := r.caughtUp
	r.caughtUp = behind == 0 && len(e.Records) == 0
	if r.caughtUp && !wasCaughtUp {
		r.emptySince = now
	}
	r.noteLoad(now, r.caughtUp)
	r.endCaughtUp(now)
}

// closeSub closes the current subscription's event stream and ends its
// context, so that its connection and goroutines go.
func (r *shardReader) closeSub() {
	if r.sub != nil {
		r.sub.Close()
		r.sub = nil
	}
	if r.subCancel != nil {
		r.subCancel()
		r.subCancel = nil
	}
}
