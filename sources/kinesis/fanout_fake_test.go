package kinesis

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// fakeFanOut adds enhanced fan-out to fakeAPI: a subscription pushes an event
// every 200ms with the records after its start (at most 100), ends after 5
// minutes, and is taken over (ended with ResourceInUseException) by the next
// subscription of its shard, as the service does.
type fakeFanOut struct {
	*fakeAPI
	subscribe func(ctx context.Context) error // runs before each SubscribeToShard when set

	smu  sync.Mutex
	subs []*fakeSub
}

type fakeSub struct {
	shard            *fakeShard
	started          time.Time
	in               *kinesis.SubscribeToShardInput
	events           chan types.SubscribeToShardEventStream
	done, finished   chan struct{}
	closeOnce        sync.Once
	mu               sync.Mutex
	err              error
	endedByServer    bool
	takenOverAt, end time.Time
}

var _ FanOutAPI = (*fakeFanOut)(nil)

func (f *fakeFanOut) DescribeStreamSummary(context.Context, *kinesis.DescribeStreamSummaryInput, ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	return &kinesis.DescribeStreamSummaryOutput{StreamDescriptionSummary: &types.StreamDescriptionSummary{StreamARN: aws.String("arn:aws:kinesis:us-east-1:1:stream/s")}}, nil
}

func (f *fakeFanOut) RegisterStreamConsumer(_ context.Context, in *kinesis.RegisterStreamConsumerInput, _ ...func(*kinesis.Options)) (*kinesis.RegisterStreamConsumerOutput, error) {
	return &kinesis.RegisterStreamConsumerOutput{Consumer: &types.Consumer{ConsumerARN: aws.String("arn:consumer")}}, nil
}

func (f *fakeFanOut) DescribeStreamConsumer(context.Context, *kinesis.DescribeStreamConsumerInput, ...func(*kinesis.Options)) (*kinesis.DescribeStreamConsumerOutput, error) {
	return &kinesis.DescribeStreamConsumerOutput{ConsumerDescription: &types.ConsumerDescription{
		ConsumerARN: aws.String("arn:consumer"), ConsumerStatus: types.ConsumerStatusActive}}, nil
}

// SubscribeToShard is not called: the reader uses subscribeEvents, since a
// SubscribeToShardOutput's event stream cannot be set outside the SDK.
func (f *fakeFanOut) SubscribeToShard(context.Context, *kinesis.SubscribeToShardInput, ...func(*kinesis.Options)) (*kinesis.SubscribeToShardOutput, error) {
	panic("fakeFanOut: SubscribeToShard")
}

func (f *fakeFanOut) subscribeEvents(ctx context.Context, in *kinesis.SubscribeToShardInput) (subscription, error) {
	if f.subscribe != nil {
		if err := f.subscribe(ctx); err != nil {
			return nil, err
		}
	}
	f.mu.Lock()
	if _, err := f.record("SubscribeToShard", in); err != nil {
		f.mu.Unlock()
		return nil, err
	}
	sh := f.shard(aws.ToString(in.ShardId))
	idx := 0
	pos := in.StartingPosition
	switch pos.Type {
	case types.ShardIteratorTypeLatest:
		idx = len(sh.records)
	case types.ShardIteratorTypeAtSequenceNumber, types.ShardIteratorTypeAfterSequenceNumber:
		idx = len(sh.records)
		for i, r := range sh.records {
			c := compareSeq(*r.SequenceNumber, aws.ToString(pos.SequenceNumber))
			if c > 0 || (c == 0 && pos.Type == types.ShardIteratorTypeAtSequenceNumber) {
				idx = i
				break
			}
		}
	}
	f.mu.Unlock()
	s := &fakeSub{shard: sh, started: time.Now(), in: in, events: make(chan types.SubscribeToShardEventStream),
		done: make(chan struct{}), finished: make(chan struct{})}
	f.smu.Lock()
	for _, old := range f.subs {
		if old.shard == sh {
			old.takeOver(&types.ResourceInUseException{Message: aws.String("taken over")})
		}
	}
	f.subs = append(f.subs, s)
	f.smu.Unlock()
	go s.run(ctx, f.fakeAPI, idx)
	return s, nil
}

func (s *fakeSub) takeOver(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err, s.takenOverAt = err, time.Now()
	}
	s.mu.Unlock()
	s.Close()
}

func (s *fakeSub) run(ctx context.Context, f *fakeAPI, idx int) {
	defer close(s.finished)
	defer close(s.events)
	end := time.NewTimer(5 * time.Minute)
	defer end.Stop()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-ctx.Done():
			return
		case <-end.C:
			s.mu.Lock()
			s.endedByServer, s.end = true, time.Now()
			s.mu.Unlock()
			return
		case <-tick.C:
		}
		f.mu.Lock()
		recs := s.shard.records[idx:min(len(s.shard.records), idx+100)]
		ev := types.SubscribeToShardEvent{Records: append([]types.Record(nil), recs...), MillisBehindLatest: aws.Int64(0)}
		idx += len(recs)
		ev.ContinuationSequenceNumber = aws.String("0")
		if idx > 0 {
			ev.ContinuationSequenceNumber = s.shard.records[idx-1].SequenceNumber
		}
		f.mu.Unlock()
		select {
		case s.events <- &types.SubscribeToShardEventStreamMemberSubscribeToShardEvent{Value: ev}:
		case <-s.done:
			return
		case <-ctx.Done():
			return
		}
	}
}

func (s *fakeSub) Events() <-chan types.SubscribeToShardEventStream { return s.events }

func (s *fakeSub) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	return nil
}

func (s *fakeSub) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
