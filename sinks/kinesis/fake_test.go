package kinesis

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardflow/shardflow/internal/kpl"
)

// fakeShard is an open shard of the fake stream.
type fakeShard struct {
	id         string
	start, end *big.Int
}

// fakeKinesis is a stream in memory that fails records and calls on demand.
// It checks the PutRecords limits and keeps each shard's records in order.
type fakeKinesis struct {
	mu       sync.Mutex
	shards   []fakeShard
	log      map[string][]stored // by shard id, in write order
	rng      *rand.Rand
	failRate float64         // share of records that fail with a random retryable code
	callErrs []error         // returned by the next calls, one each
	failKeys map[string]bool // partition keys whose records always fail
	pageSize int             // ListShards page size

	calls, failed, listCalls  int
	maxCallRecs, maxCallBytes int
}

type stored struct {
	key  string
	data []byte
}

// newFake returns a stream of n shards splitting the hash space evenly.
func newFake(n int, seed uint64) *fakeKinesis {
	f := &fakeKinesis{log: make(map[string][]stored), rng: rand.New(rand.NewPCG(seed, seed+1)), pageSize: 1}
	f.setShards(n, 0)
	return f
}

// setShards replaces the open shards with n even ranges, ids from first.
func (f *fakeKinesis) setShards(n, first int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	f.shards = nil
	for i := range n {
		start := new(big.Int).Div(new(big.Int).Mul(space, big.NewInt(int64(i))), big.NewInt(int64(n)))
		end := new(big.Int).Div(new(big.Int).Mul(space, big.NewInt(int64(i+1))), big.NewInt(int64(n)))
		end.Sub(end, big.NewInt(1))
		f.shards = append(f.shards, fakeShard{id: fmt.Sprintf("shardId-%012d", first+i), start: start, end: end})
	}
}

func (f *fakeKinesis) shardOf(key string) string {
	h := partitionHash(key)
	v := new(big.Int).SetBytes(h[:])
	for _, s := range f.shards {
		if v.Cmp(s.start) >= 0 && v.Cmp(s.end) <= 0 {
			return s.id
		}
	}
	panic("fake: no shard for " + key)
}

func (f *fakeKinesis) ListShards(_ context.Context, in *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listCalls++
	from := 0
	if in.NextToken != nil {
		if in.StreamName != nil || in.StreamARN != nil {
			return nil, &types.InvalidArgumentException{Message: aws.String("NextToken and StreamName both set")}
		}
		from, _ = strconv.Atoi(*in.NextToken)
	} else if in.StreamName == nil && in.StreamARN == nil {
		return nil, &types.InvalidArgumentException{Message: aws.String("no stream")}
	}
	out := &kinesis.ListShardsOutput{}
	// a closed parent first, as real streams list them
	if from == 0 {
		out.Shards = append(out.Shards, types.Shard{ShardId: aws.String("shardId-closed"),
			HashKeyRange:        &types.HashKeyRange{StartingHashKey: aws.String("0"), EndingHashKey: aws.String("340282366920938463463374607431768211455")},
			SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("1"), EndingSequenceNumber: aws.String("2")}})
	}
	to := min(from+f.pageSize, len(f.shards))
	for _, s := range f.shards[from:to] {
		out.Shards = append(out.Shards, types.Shard{ShardId: aws.String(s.id),
			HashKeyRange:        &types.HashKeyRange{StartingHashKey: aws.String(s.start.String()), EndingHashKey: aws.String(s.end.String())},
			SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("3")}})
	}
	if to < len(f.shards) {
		out.NextToken = aws.String(strconv.Itoa(to))
	}
	return out, nil
}

func (f *fakeKinesis) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(f.callErrs) > 0 {
		err := f.callErrs[0]
		f.callErrs = f.callErrs[1:]
		return nil, err
	}
	if aws.ToString(in.StreamName) == "" && aws.ToString(in.StreamARN) == "" {
		return nil, &types.InvalidArgumentException{Message: aws.String("no stream")}
	}
	size := 0
	for _, r := range in.Records {
		size += len(r.Data) + len(aws.ToString(r.PartitionKey))
	}
	if len(in.Records) == 0 || len(in.Records) > MaxCallRecords || size > MaxCallBytes {
		return nil, &types.InvalidArgumentException{Message: aws.String(fmt.Sprintf("%d records, %d bytes", len(in.Records), size))}
	}
	f.maxCallRecs = max(f.maxCallRecs, len(in.Records))
	f.maxCallBytes = max(f.maxCallBytes, size)
	out := &kinesis.PutRecordsOutput{}
	for _, r := range in.Records {
		key := aws.ToString(r.PartitionKey)
		if f.failKeys[key] || f.rng.Float64() < f.failRate {
			code := []string{"ProvisionedThroughputExceededException", "InternalFailure"}[f.rng.IntN(2)]
			out.Records = append(out.Records, types.PutRecordsResultEntry{ErrorCode: aws.String(code), ErrorMessage: aws.String("injected")})
			f.failed++
			continue
		}
		shard := f.shardOf(key)
		f.log[shard] = append(f.log[shard], stored{key, append([]byte(nil), r.Data...)})
		out.Records = append(out.Records, types.PutRecordsResultEntry{ShardId: aws.String(shard), SequenceNumber: aws.String(strconv.Itoa(len(f.log[shard])))})
	}
	out.FailedRecordCount = aws.Int32(int32(len(in.Records) - countOK(out.Records)))
	return out, nil
}

func countOK(rs []types.PutRecordsResultEntry) int {
	n := 0
	for _, r := range rs {
		if r.ErrorCode == nil {
			n++
		}
	}
	return n
}

// userRecord is a user record as read back, with the shard that holds it.
type userRecord struct {
	shard, key string
	data       string
}

// readBack returns every user record in shard order, deaggregating KPL
// aggregates; it fails t on a corrupt aggregate.
func readBack(t testing.TB, shards []string, log func(shard string) []stored) []userRecord {
	t.Helper()
	var out []userRecord
	for _, sh := range shards {
		for _, r := range log(sh) {
			if !kpl.IsAggregated(r.data) {
				out = append(out, userRecord{sh, r.key, string(r.data)})
				continue
			}
			err := kpl.Deaggregate(r.data, func(_ int64, key string, data []byte) error {
				out = append(out, userRecord{sh, key, string(data)})
				return nil
			})
			if err != nil {
				t.Fatalf("shard %s: %v", sh, err)
			}
		}
	}
	return out
}

func (f *fakeKinesis) readBack(t testing.TB) []userRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for id := range f.log {
		ids = append(ids, id)
	}
	return readBack(t, ids, func(s string) []stored { return f.log[s] })
}

// checkRecords asserts that got holds every record of want exactly once, in
// want's order per partition key when ordered, and each in the shard its
// key maps to when shardOf is not nil.
func checkRecords(t testing.TB, want []userRecord, got []userRecord, ordered bool, shardOf func(string) string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("read %d records, put %d", len(got), len(want))
	}
	seen := make(map[string]int, len(got))
	for _, r := range got {
		seen[r.data]++
		if shardOf != nil && shardOf(r.key) != r.shard {
			t.Fatalf("record %q of key %q in shard %s, key maps to %s", r.data, r.key, r.shard, shardOf(r.key))
		}
	}
	for _, r := range want {
		if seen[r.data] != 1 {
			t.Fatalf("record %q read %d times", r.data, seen[r.data])
		}
	}
	if !ordered {
		return
	}
	pos := make(map[string]int, len(want)) // data -> index in want
	for i, r := range want {
		pos[r.data] = i
	}
	last := make(map[string]int)
	for _, r := range got {
		i := pos[r.data]
		if prev, ok := last[r.key]; ok && prev > i {
			t.Fatalf("key %q: record %q (put #%d) read after put #%d", r.key, r.data, i, prev)
		}
		last[r.key] = i
	}
}

// recordedSleep collects backoff pauses instead of sleeping.
type recordedSleep struct {
	mu     sync.Mutex
	pauses []time.Duration
}

func (s *recordedSleep) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pauses = append(s.pauses, d)
	return ctx.Err()
}

var errInjected = errors.New("injected")
