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
	streamARN := aws.ToString(s.stream.arn)
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
	case apiCode(err) == "ResourceInUseException": // registered before: use it
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
		if err := sleepCtx(ctx, min(backoff(attempt, 50*time.Millisecond, time.Second), time.Second)); err != nil {
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

// subscribe opens a subscription after the last record read (or the
// continuation of the last event), else at the checkpoint, else at the
// configured start.
func (r *shardReader) subscribe(ctx context.Context) error {
	arn, err := r.src.consumer(ctx)
	if err != nil {
		return err
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
	// The subscription outlives this call: its context is the reader's.
	out, err := r.src.api.(FanOutAPI).SubscribeToShard(r.subCtx, &kinesis.SubscribeToShardInput{
		ConsumerARN: aws.String(arn), ShardId: aws.String(r.shard), StartingPosition: pos,
	}, ownRetries, ownEventCodec)
	if err != nil {
		return fmt.Errorf("kinesis: shard %s: subscribe: %w", r.shard, err)
	}
	if pos.Type == types.ShardIteratorTypeLatest {
		r.latestAt = started
	}
	r.sub = out.GetStream()
	return nil
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
	_, cut := r.take(e.Records)
	behind := aws.ToInt64(e.MillisBehindLatest)
	now := time.Now()
	r.cfg.Metrics.MillisBehind(r.shard, behind)
	if n := len(e.Records); n > 0 {
		if t := e.Records[n-1].ApproximateArrivalTimestamp; t != nil {
			r.cfg.Metrics.IteratorAge(r.shard, max(0, now.Sub(*t)))
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
	if st := r.cfg.StopAt; st != nil && !st.Time.IsZero() && r.caughtUp && now.After(st.Time) && !r.ended {
		r.end(pipeline.ErrBoundReached)
	}
}

func (r *shardReader) closeSub() {
	if r.sub != nil {
		r.sub.Close()
		r.sub = nil
	}
}
