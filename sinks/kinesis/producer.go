package kinesis

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardflow/shardflow/internal/kinesiserr"
	"github.com/shardflow/shardflow/internal/kpl"
)

// Stats counts what a Producer did.
type Stats struct {
	Records        int64 // user records acknowledged by Kinesis
	KinesisRecords int64 // Kinesis records acknowledged (an aggregate counts once)
	Bytes          int64 // data bytes of the acknowledged Kinesis records
	Calls          int64 // PutRecords calls
	FailedCalls    int64 // calls that failed as a whole and were repeated
	Retries        int64 // records sent again after a failure
	Throttles      int64 // throttled records and calls
	ShardListings  int64 // ListShards walks to map keys to shards (aggregation)
}

// entry is one Kinesis record waiting to be acknowledged.
type entry struct {
	key      string // partition key
	data     []byte
	order    string // records with the same order key keep their order
	shard    string // the shard an aggregate must land in; "" when not aggregated
	records  int    // user records in it
	attempts int
	done     bool
}

func (e *entry) size() int { return len(e.data) + len(e.key) }

// Producer writes records to one stream in PutRecords calls (see the package
// documentation). It is used by one goroutine and starts none.
type Producer struct {
	cfg    ProducerConfig
	api    API
	stream streamRef
	now    func() time.Time
	sleep  func(context.Context, time.Duration) error
	randN  func(time.Duration) time.Duration

	queue         []*entry // in Put order
	queuedRecords int
	queuedBytes   int
	aggs          map[string]*kpl.Aggregator // open aggregates by shard
	shards        *shardMap
	stale         bool      // Kinesis put an aggregate in an unexpected shard
	oldest        time.Time // when the oldest buffered record was put; zero when none
	failStreak    int       // consecutive calls with failures

	picked  []int
	blocked map[string]struct{}
	reqs    []types.PutRecordsRequestEntry
	stats   Stats
}

// ProducerOption adjusts a Producer; for tests.
type ProducerOption func(*Producer)

// WithClock replaces the clock that Linger reads.
func WithClock(now func() time.Time) ProducerOption { return func(p *Producer) { p.now = now } }

// WithSleep replaces the backoff pause (default: a timer that ctx cancels).
func WithSleep(sleep func(context.Context, time.Duration) error) ProducerOption {
	return func(p *Producer) { p.sleep = sleep }
}

// WithJitter replaces the jitter source: randN(n) returns a duration in [0, n).
func WithJitter(randN func(time.Duration) time.Duration) ProducerOption {
	return func(p *Producer) { p.randN = randN }
}

// NewProducer returns a producer for cfg.
func NewProducer(cfg ProducerConfig, opts ...ProducerOption) (*Producer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	p := &Producer{
		cfg: cfg, api: cfg.Client, stream: newStreamRef(cfg.Stream),
		now: time.Now, sleep: kinesiserr.Sleep, randN: rand.N[time.Duration],
		aggs: make(map[string]*kpl.Aggregator), blocked: make(map[string]struct{}),
	}
	for _, o := range opts {
		o(p)
	}
	return p, nil
}

// Put buffers one record (its partition key and data are copied: a caller
// may pass bytes it reuses, such as an unsafe string into an Arrow buffer
// that goes back to its allocator once the batch is released) and sends the
// calls that are full.
// It returns an error for an invalid partition key or a record above the
// stream's limit (the record is not buffered), and the errors of the calls
// it sent (see Flush).
func (p *Producer) Put(ctx context.Context, partitionKey string, data []byte) error {
	if partitionKey == "" || utf8.RuneCountInString(partitionKey) > MaxPartitionKeyLen {
		return fmt.Errorf("%w: %d characters, want 1 to %d", ErrPartitionKey, utf8.RuneCountInString(partitionKey), MaxPartitionKeyLen)
	}
	if n := len(partitionKey) + len(data); n > p.cfg.MaxRecordBytesLimit {
		return fmt.Errorf("%w: %d bytes with its partition key, limit %d", ErrRecordTooLarge, n, p.cfg.MaxRecordBytesLimit)
	}
	if p.cfg.Aggregate {
		if err := p.addAggregated(ctx, partitionKey, data); err != nil {
			return err
		}
	} else {
		key := strings.Clone(partitionKey)
		p.enqueue(&entry{key: key, data: append([]byte(nil), data...), order: key, records: 1})
	}
	if p.oldest.IsZero() {
		p.oldest = p.now()
	}
	for p.queuedRecords >= p.cfg.CallRecords || p.queuedBytes >= p.cfg.CallBytes {
		if err := p.send(ctx); err != nil {
			return err
		}
	}
	if p.cfg.Linger > 0 && p.now().Sub(p.oldest) >= p.cfg.Linger {
		return p.Flush(ctx)
	}
	return nil
}

// Flush sends everything buffered, open aggregates included, and returns
// once Kinesis has acknowledged all of it. On error (a record that failed
// MaxAttempts times, a call that cannot succeed, ctx done) it returns at
// once; a record that gave up is dropped, the others stay buffered, and a
// later Flush tries them again.
func (p *Producer) Flush(ctx context.Context) error {
	p.closeAggregates()
	for len(p.queue) > 0 {
		if err := p.send(ctx); err != nil {
			return err
		}
	}
	p.oldest = time.Time{}
	return nil
}

// Buffered is the number of user records put but not yet acknowledged.
func (p *Producer) Buffered() int {
	n := 0
	for _, e := range p.queue {
		n += e.records
	}
	for _, a := range p.aggs {
		n += a.Len()
	}
	return n
}

// Stats returns the producer's counters.
func (p *Producer) Stats() Stats { return p.stats }

func (p *Producer) enqueue(e *entry) {
	p.queue = append(p.queue, e)
	p.queuedRecords++
	p.queuedBytes += e.size()
}

// addAggregated adds a user record to the open aggregate of its shard.
func (p *Producer) addAggregated(ctx context.Context, key string, data []byte) error {
	if p.shards == nil || p.stale {
		if err := p.refreshShards(ctx); err != nil {
			return err
		}
	}
	shard, ok := p.shards.lookup(key)
	if !ok {
		return fmt.Errorf("%w: %q", ErrNoShard, key)
	}
	agg := p.aggs[shard]
	if agg == nil {
		var err error
		if agg, err = kpl.NewAggregator(p.cfg.MaxAggregateBytes); err != nil {
			return fmt.Errorf("kinesis: %w", err)
		}
		p.aggs[shard] = agg
	}
	full, err := agg.Add(key, data)
	switch {
	case errors.Is(err, kpl.ErrRecordTooLarge):
		// too big to aggregate but within the record limit: put it plain,
		// after what its shard has buffered
		p.enqueueAggregate(agg.Flush(), shard)
		p.enqueue(&entry{key: strings.Clone(key), data: append([]byte(nil), data...), order: shard, shard: shard, records: 1})
	case err != nil:
		return fmt.Errorf("kinesis: %w", err)
	default:
		p.enqueueAggregate(full, shard)
	}
	return nil
}

func (p *Producer) enqueueAggregate(a *kpl.Aggregate, shard string) {
	if a != nil {
		p.enqueue(&entry{key: a.PartitionKey, data: a.Data, order: shard, shard: shard, records: a.Records})
	}
}

// closeAggregates queues every open aggregate.
func (p *Producer) closeAggregates() {
	for _, shard := range slices.Sorted(maps.Keys(p.aggs)) {
		p.enqueueAggregate(p.aggs[shard].Flush(), shard)
	}
}

// refreshShards lists the stream's open shards, after queueing the open
// aggregates, which belong to the old map.
func (p *Producer) refreshShards(ctx context.Context) error {
	p.closeAggregates()
	clear(p.aggs)
	for attempt := 1; ; attempt++ {
		m, err := listShardMap(ctx, p.api, p.stream)
		p.stats.ShardListings++
		if err == nil {
			p.shards, p.stale = m, false
			return nil
		}
		if !IsRetryable(err) || attempt >= p.cfg.MaxAttempts || ctx.Err() != nil {
			return err
		}
		if err := p.sleep(ctx, kinesiserr.Backoff(attempt-1, p.cfg.MinBackoff, p.cfg.MaxBackoff, p.randN)); err != nil {
			return err
		}
	}
}

// pick chooses the queue entries of the next call, in queue order: at most
// CallRecords and CallBytes, and unless Unordered at most one entry per order
// key, an order key being blocked for the rest of the call once one of its
// entries is taken or left out. The first entry is always taken, so every
// call makes progress.
func (p *Producer) pick() []int {
	p.picked = p.picked[:0]
	clear(p.blocked)
	size := 0
	for i, e := range p.queue {
		if len(p.picked) == p.cfg.CallRecords {
			break
		}
		if !p.cfg.Unordered {
			if _, ok := p.blocked[e.order]; ok {
				continue
			}
			p.blocked[e.order] = struct{}{}
		}
		if size+e.size() > p.cfg.CallBytes && i > 0 {
			if p.cfg.Unordered {
				break
			}
			continue
		}
		p.picked = append(p.picked, i)
		size += e.size()
	}
	return p.picked
}

// ownRetries turns the SDK's retries off for one call: the producer retries
// with its own classifier and backoff, so that each record's attempts,
// throttles and retries are counted.
func ownRetries(o *kinesis.Options) { o.RetryMaxAttempts = 1 }

// send makes one PutRecords call with the entries pick chooses, removes the
// acknowledged ones from the queue and, when some failed, waits a backoff.
func (p *Producer) send(ctx context.Context) error {
	picked := p.pick()
	p.reqs = p.reqs[:0]
	for _, i := range picked {
		e := p.queue[i]
		p.reqs = append(p.reqs, types.PutRecordsRequestEntry{Data: e.data, PartitionKey: aws.String(e.key)})
	}
	in := &kinesis.PutRecordsInput{StreamName: p.stream.name, StreamARN: p.stream.arn, Records: p.reqs}
	callCtx, cancel := context.WithTimeout(ctx, p.cfg.CallTimeout)
	out, err := p.api.PutRecords(callCtx, in, ownRetries)
	cancel()
	p.stats.Calls++
	if err == nil && len(out.Records) != len(picked) {
		return fmt.Errorf("kinesis: put records: %d results for %d records", len(out.Records), len(picked))
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("kinesis: put records: %w", ctx.Err())
		}
		if !IsRetryable(err) {
			return fmt.Errorf("kinesis: put records: %w", err)
		}
		p.stats.FailedCalls++
		if IsThrottle(err) {
			p.stats.Throttles++
		}
		for _, i := range picked {
			e := p.queue[i]
			if e.attempts++; e.attempts >= p.cfg.MaxAttempts {
				p.drop(i)
				return fmt.Errorf("kinesis: put records: %w", &RecordError{PartitionKey: e.key, Attempts: e.attempts, Code: kinesiserr.Code(err), Message: err.Error()})
			}
		}
		p.stats.Retries += int64(len(picked))
		return p.backoff(ctx, len(picked), err.Error())
	}

	var gaveUp *RecordError
	failed, firstCode := 0, ""
	for j, r := range out.Records {
		i := picked[j]
		e := p.queue[i]
		if code := aws.ToString(r.ErrorCode); code != "" {
			if failed++; failed == 1 {
				firstCode = code
			}
			if IsThrottleCode(code) {
				p.stats.Throttles++
			}
			if e.attempts++; e.attempts >= p.cfg.MaxAttempts && gaveUp == nil {
				gaveUp = &RecordError{PartitionKey: e.key, Attempts: e.attempts, Code: code, Message: aws.ToString(r.ErrorMessage)}
				e.done = true
			}
			continue
		}
		e.done = true
		p.stats.Records += int64(e.records)
		p.stats.KinesisRecords++
		p.stats.Bytes += int64(len(e.data))
		if e.shard != "" && aws.ToString(r.ShardId) != e.shard && !p.stale {
			p.stale = true
			p.cfg.Logger.Info("kinesis: aggregate landed in another shard than mapped; listing shards again",
				"stream", p.cfg.Stream, "want", e.shard, "got", aws.ToString(r.ShardId))
		}
	}
	p.compact()
	if gaveUp != nil {
		p.cfg.Logger.Warn("kinesis: record gave up", "stream", p.cfg.Stream, "err", gaveUp)
		return fmt.Errorf("kinesis: put records: %w", gaveUp)
	}
	if failed == 0 {
		p.failStreak = 0
		return nil
	}
	p.stats.Retries += int64(failed)
	return p.backoff(ctx, failed, firstCode)
}

// backoff waits before the retry of failed records.
func (p *Producer) backoff(ctx context.Context, failed int, why string) error {
	p.failStreak++
	d := kinesiserr.Backoff(p.failStreak-1, p.cfg.MinBackoff, p.cfg.MaxBackoff, p.randN)
	p.cfg.Logger.Debug("kinesis: retrying records", "stream", p.cfg.Stream, "records", failed, "why", why, "backoff", d)
	if err := p.sleep(ctx, d); err != nil {
		return fmt.Errorf("kinesis: put records: %w", err)
	}
	return nil
}

// drop removes queue entry i.
func (p *Producer) drop(i int) {
	p.queue[i].done = true
	p.compact()
}

// compact removes the done entries from the queue, keeping the order.
func (p *Producer) compact() {
	kept := p.queue[:0]
	for _, e := range p.queue {
		if e.done {
			p.queuedRecords--
			p.queuedBytes -= e.size()
			continue
		}
		kept = append(kept, e)
	}
	clear(p.queue[len(kept):])
	p.queue = kept
}
