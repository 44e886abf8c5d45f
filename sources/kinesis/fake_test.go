package kinesis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// fakeAPI is an in-process Kinesis with the semantics the reader relies on:
// iterator types, Limit, closed shards (nil NextShardIterator once drained),
// iterators that expire after 5 minutes, MillisBehindLatest, paginated
// ListShards. fail, when set, can answer any call with an error instead.
type fakeAPI struct {
	mu       sync.Mutex
	shards   []*fakeShard
	iters    map[string]fakeIter
	nextIter int
	pageSize int
	calls    []fakeCall
	fail     func(op string, n int) error // n counts calls of op from 1
	counts   map[string]int
	seq      int
	// behindByArrival makes MillisBehindLatest how far the answer's last
	// record (or the iterator's next one) arrived before now, as Kinesis
	// says, instead of 1000 while records are left.
	behindByArrival bool
}

type fakeShard struct {
	id, parent, adjacent string
	records              []types.Record
	closed               bool
}

type fakeIter struct {
	shard  *fakeShard
	idx    int
	issued time.Time
}

type fakeCall struct {
	op   string
	at   time.Time
	in   any
	recs int
}

var _ API = (*fakeAPI)(nil)

func newFake(shards ...*fakeShard) *fakeAPI {
	return &fakeAPI{shards: shards, iters: map[string]fakeIter{}, counts: map[string]int{}, pageSize: 1000}
}

// put appends records with increasing sequence numbers of equal length and
// arrival now.
func (f *fakeAPI) put(shard *fakeShard, key string, data ...[]byte) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var seqs []string
	for _, d := range data {
		f.seq++
		seq := fmt.Sprintf("4959%032d", f.seq)
		now := time.Now()
		shard.records = append(shard.records, types.Record{
			Data: d, PartitionKey: aws.String(key), SequenceNumber: aws.String(seq), ApproximateArrivalTimestamp: &now,
		})
		seqs = append(seqs, seq)
	}
	return seqs
}

func (f *fakeAPI) record(op string, in any) (int, error) {
	f.counts[op]++
	n := f.counts[op]
	f.calls = append(f.calls, fakeCall{op: op, at: time.Now(), in: in})
	if f.fail != nil {
		return n, f.fail(op, n)
	}
	return n, nil
}

func (f *fakeAPI) callsOf(op string) []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeCall
	for _, c := range f.calls {
		if c.op == op {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeAPI) ListShards(ctx context.Context, in *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.record("ListShards", in); err != nil {
		return nil, err
	}
	start := 0
	if in.NextToken != nil {
		if in.StreamName != nil || in.StreamARN != nil {
			return nil, &types.InvalidArgumentException{Message: aws.String("NextToken and StreamName cannot be provided together")}
		}
		start, _ = strconv.Atoi(strings.TrimPrefix(*in.NextToken, "page-"))
	} else if aws.ToString(in.StreamName) == "" && aws.ToString(in.StreamARN) == "" {
		return nil, &types.InvalidArgumentException{Message: aws.String("no stream")}
	}
	end := min(start+f.pageSize, len(f.shards))
	out := &kinesis.ListShardsOutput{}
	for _, s := range f.shards[start:end] {
		sh := types.Shard{ShardId: aws.String(s.id)}
		if s.parent != "" {
			sh.ParentShardId = aws.String(s.parent)
		}
		if s.adjacent != "" {
			sh.AdjacentParentShardId = aws.String(s.adjacent)
		}
		out.Shards = append(out.Shards, sh)
	}
	if end < len(f.shards) {
		out.NextToken = aws.String(fmt.Sprintf("page-%d", end))
	}
	return out, nil
}

func (f *fakeAPI) shard(id string) *fakeShard {
	for _, s := range f.shards {
		if s.id == id {
			return s
		}
	}
	return nil
}

func (f *fakeAPI) newIter(s *fakeShard, idx int) *string {
	f.nextIter++
	tok := fmt.Sprintf("iter-%d", f.nextIter)
	f.iters[tok] = fakeIter{shard: s, idx: idx, issued: time.Now()}
	return &tok
}

func (f *fakeAPI) GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, _ ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.record("GetShardIterator", in); err != nil {
		return nil, err
	}
	s := f.shard(aws.ToString(in.ShardId))
	if s == nil {
		return nil, &types.ResourceNotFoundException{Message: aws.String("no shard " + aws.ToString(in.ShardId))}
	}
	idx := 0
	switch in.ShardIteratorType {
	case types.ShardIteratorTypeTrimHorizon:
	case types.ShardIteratorTypeLatest:
		idx = len(s.records)
	case types.ShardIteratorTypeAtSequenceNumber, types.ShardIteratorTypeAfterSequenceNumber:
		want := aws.ToString(in.StartingSequenceNumber)
		idx = len(s.records)
		for i, r := range s.records {
			c := compareSeq(*r.SequenceNumber, want)
			if c > 0 || (c == 0 && in.ShardIteratorType == types.ShardIteratorTypeAtSequenceNumber) {
				idx = i
				break
			}
		}
	case types.ShardIteratorTypeAtTimestamp:
		idx = len(s.records)
		for i, r := range s.records {
			if !r.ApproximateArrivalTimestamp.Before(*in.Timestamp) {
				idx = i
				break
			}
		}
	default:
		return nil, &types.InvalidArgumentException{Message: aws.String("iterator type " + string(in.ShardIteratorType))}
	}
	return &kinesis.GetShardIteratorOutput{ShardIterator: f.newIter(s, idx)}, nil
}

func (f *fakeAPI) GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.record("GetRecords", in); err != nil {
		return nil, err
	}
	it, ok := f.iters[aws.ToString(in.ShardIterator)]
	if !ok {
		return nil, &types.InvalidArgumentException{Message: aws.String("unknown iterator")}
	}
	if time.Since(it.issued) > 5*time.Minute {
		return nil, &types.ExpiredIteratorException{Message: aws.String("Iterator expired")}
	}
	end := min(len(it.shard.records), it.idx+int(aws.ToInt32(in.Limit)))
	out := &kinesis.GetRecordsOutput{Records: append([]types.Record(nil), it.shard.records[it.idx:end]...)}
	f.calls[len(f.calls)-1].recs = len(out.Records)
	behind := int64(0)
	if end < len(it.shard.records) {
		behind = 1000
		if f.behindByArrival {
			behind = time.Since(*it.shard.records[max(end-1, it.idx)].ApproximateArrivalTimestamp).Milliseconds()
		}
	}
	out.MillisBehindLatest = aws.Int64(behind)
	if !(it.shard.closed && end == len(it.shard.records)) {
		out.NextShardIterator = f.newIter(it.shard, end)
	}
	return out, nil
}
