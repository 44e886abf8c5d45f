package main

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"golang.org/x/sync/errgroup"

	"github.com/shardflow/shardflow/internal/kinesiserr"
	source "github.com/shardflow/shardflow/sources/kinesis"
)

// loadOptions are describe's flags for measuring the open shards' write load.
type loadOptions struct {
	window     time.Duration // of arrival time before now; 0: do not measure
	hot        float64       // utilization from which a shard is hot
	maxRecords int           // per shard
	topKeys    int
}

// shardLoad is one open shard's write load as measured from its last
// records: `streams describe --format json` prints it as the shard's "load".
type shardLoad struct {
	From    time.Time `json:"from"`  // arrival time the measurement starts at
	Until   time.Time `json:"until"` // and ends at
	Seconds float64   `json:"seconds"`
	Records int       `json:"records"` // Kinesis records read in [from, until)
	Bytes   int64     `json:"bytes"`   // their data plus partition keys
	// Capped says the record cap stopped the read: from..until then ends at
	// the last record read.
	Capped             bool      `json:"capped"`
	RecordsPerSecond   float64   `json:"records_per_second"`
	BytesPerSecond     float64   `json:"bytes_per_second"`
	RecordsUtilization float64   `json:"records_utilization"` // of 1,000 records/s
	BytesUtilization   float64   `json:"bytes_utilization"`   // of 1 MiB/s
	Utilization        float64   `json:"utilization"`         // the larger
	Hot                bool      `json:"hot"`
	TopKeys            []keyLoad `json:"top_keys"`
	Split              *split    `json:"split,omitempty"` // for a hot shard
	Error              string    `json:"error,omitempty"` // why the shard could not be measured
}

type keyLoad struct {
	Key          string  `json:"key"`
	Records      int     `json:"records"`
	Bytes        int64   `json:"bytes"`
	RecordsShare float64 `json:"records_share"`
	BytesShare   float64 `json:"bytes_share"`
}

// split is the SplitShard that halves a shard's measured bytes.
type split struct {
	NewStartingHashKey string  `json:"new_starting_hash_key"`
	LowerBytesShare    float64 `json:"lower_bytes_share"` // of the measured bytes, to the child below the key
	Command            string  `json:"command"`
	// HeaviestHashShare is the share of the bytes of the heaviest single
	// partition key: no split can do better than leave it whole on one side.
	HeaviestKey       string  `json:"heaviest_key"`
	HeaviestHashShare float64 `json:"heaviest_key_bytes_share"`
}

// sampleAPI is what describe uses of the Kinesis API to measure the load.
type sampleAPI interface {
	GetShardIterator(context.Context, *awskinesis.GetShardIteratorInput, ...func(*awskinesis.Options)) (*awskinesis.GetShardIteratorOutput, error)
	GetRecords(context.Context, *awskinesis.GetRecordsInput, ...func(*awskinesis.Options)) (*awskinesis.GetRecordsOutput, error)
}

// How long describe waits for one call of the measurement.
const iteratorTimeout, recordsTimeout = 3 * time.Second, 30 * time.Second

// sampleReadBytesPerSecond is how fast describe reads one shard: half of its
// read limit, so that the stream's own consumers keep the other half.
const sampleReadBytesPerSecond = source.ShardReadBytesPerSecond / 2

// sampledRecord is what the measurement keeps of a record.
type sampledRecord struct {
	key   string
	bytes int64
}

// measureLoads reads each open shard from AT_TIMESTAMP until-window (or the
// stream's creation, when later) to the tip, up to opts.maxRecords records,
// a few shards at a time.
func measureLoads(ctx context.Context, api sampleAPI, stream string, shards []types.Shard, created, until time.Time, opts loadOptions) (map[string]*shardLoad, error) {
	from := until.Add(-opts.window)
	if created.After(from) {
		from = created
	}
	loads := make(map[string]*shardLoad, len(shards))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	results := make([]*shardLoad, len(shards))
	for i, s := range shards {
		if s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil {
			continue // closed: no writes
		}
		g.Go(func() error {
			recs, last, capped, err := readWindow(ctx, api, stream, aws.ToString(s.ShardId), from, until, opts.maxRecords)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				// The table is still worth printing: say what went wrong by shard.
				results[i] = &shardLoad{From: from.UTC(), Until: until.UTC(), Seconds: until.Sub(from).Seconds(), Error: err.Error(), TopKeys: []keyLoad{}}
				return nil
			}
			end := until
			if capped {
				end = last
			}
			results[i] = summarize(stream, s, recs, from, end, capped, opts)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, s := range shards {
		if results[i] != nil {
			loads[aws.ToString(s.ShardId)] = results[i]
		}
	}
	return loads, nil
}

// readWindow reads shard's records that arrived in [from, until), at most
// limit of them, pacing GetRecords to 5 calls/s. last is the arrival time of
// the last record kept; capped says limit stopped the read.
func readWindow(ctx context.Context, api sampleAPI, stream, shard string, from, until time.Time, limit int) (recs []sampledRecord, last time.Time, capped bool, err error) {
	name, arn := &stream, (*string)(nil)
	if strings.HasPrefix(stream, "arn:") {
		name, arn = nil, &stream
	}
	// kinesalite never answers AT_TIMESTAMP for a shard with no record after
	// the timestamp; Kinesis answers in milliseconds: bound the call.
	itCtx, cancel := context.WithTimeout(ctx, iteratorTimeout)
	defer cancel()
	it, err := api.GetShardIterator(itCtx, &awskinesis.GetShardIteratorInput{StreamName: name, StreamARN: arn, ShardId: &shard,
		ShardIteratorType: types.ShardIteratorTypeAtTimestamp, Timestamp: aws.Time(from)})
	if err != nil {
		return nil, last, false, fmt.Errorf("shard %s: get shard iterator: %w", shard, err)
	}
	iter := it.ShardIterator
	for iter != nil {
		callCtx, cancel := context.WithTimeout(ctx, recordsTimeout)
		out, err := api.GetRecords(callCtx, &awskinesis.GetRecordsInput{ShardIterator: iter, StreamARN: arn, Limit: aws.Int32(10000)})
		cancel()
		if err != nil {
			return nil, last, false, fmt.Errorf("shard %s: get records: %w", shard, err)
		}
		answered := 0
		for _, r := range out.Records {
			answered += len(r.Data) + len(aws.ToString(r.PartitionKey))
		}
		for _, r := range out.Records {
			at := aws.ToTime(r.ApproximateArrivalTimestamp)
			if !at.Before(until) {
				return recs, last, false, nil // written after the measurement began
			}
			if at.Before(from) {
				continue
			}
			if len(recs) >= limit {
				return recs, last, true, nil
			}
			pk := aws.ToString(r.PartitionKey)
			recs = append(recs, sampledRecord{key: pk, bytes: int64(len(r.Data) + len(pk))})
			last = at
		}
		if b := out.MillisBehindLatest; (b != nil && *b == 0) || (b == nil && len(out.Records) == 0) {
			return recs, last, false, nil // at the tip
		}
		iter = out.NextShardIterator
		// At most 5 GetRecords calls/s per shard, and at most half of the
		// shard's 2 MB/s read limit, which the stream's consumers share.
		wait := max(source.MinCallInterval, time.Duration(float64(answered)/sampleReadBytesPerSecond*float64(time.Second)))
		if err := kinesiserr.Sleep(ctx, wait); err != nil {
			return nil, last, false, err
		}
	}
	return recs, last, false, nil
}

// summarize computes a shard's rates, top keys and, when hot, its split.
func summarize(stream string, s types.Shard, recs []sampledRecord, from, until time.Time, capped bool, opts loadOptions) *shardLoad {
	l := &shardLoad{From: from.UTC(), Until: until.UTC(), Seconds: until.Sub(from).Seconds(), Records: len(recs), Capped: capped}
	byKey := map[string]*keyLoad{}
	for _, r := range recs {
		l.Bytes += r.bytes
		k := byKey[r.key]
		if k == nil {
			k = &keyLoad{Key: r.key}
			byKey[r.key] = k
		}
		k.Records++
		k.Bytes += r.bytes
	}
	if l.Seconds > 0 {
		l.RecordsPerSecond = float64(l.Records) / l.Seconds
		l.BytesPerSecond = float64(l.Bytes) / l.Seconds
	}
	l.RecordsUtilization = l.RecordsPerSecond / source.ShardWriteRecordsPerSecond
	l.BytesUtilization = l.BytesPerSecond / source.ShardWriteBytesPerSecond
	l.Utilization = max(l.RecordsUtilization, l.BytesUtilization)
	l.Hot = l.Records > 0 && l.Utilization >= opts.hot

	keys := make([]*keyLoad, 0, len(byKey))
	for _, k := range byKey {
		k.RecordsShare = float64(k.Records) / float64(l.Records)
		if l.Bytes > 0 {
			k.BytesShare = float64(k.Bytes) / float64(l.Bytes)
		}
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Records != keys[j].Records {
			return keys[i].Records > keys[j].Records
		}
		return keys[i].Key < keys[j].Key
	})
	for i, k := range keys {
		if i == opts.topKeys {
			break
		}
		l.TopKeys = append(l.TopKeys, *k)
	}
	l.TopKeys = append([]keyLoad{}, l.TopKeys...) // [] rather than null in JSON

	if l.Hot && s.HashKeyRange != nil {
		lo, ok1 := new(big.Int).SetString(aws.ToString(s.HashKeyRange.StartingHashKey), 10)
		hi, ok2 := new(big.Int).SetString(aws.ToString(s.HashKeyRange.EndingHashKey), 10)
		if ok1 && ok2 {
			weights := make(map[string]int64, len(byKey))
			for _, k := range keys {
				weights[k.Key] = k.Bytes
			}
			if key, lower, heaviest, err := splitKey(weights, lo, hi); err == nil {
				l.Split = &split{NewStartingHashKey: key.String(), HeaviestHashShare: heaviest, HeaviestKey: heaviestKey(weights),
					LowerBytesShare: lower,
					Command: fmt.Sprintf("aws kinesis split-shard --stream-name %s --shard-to-split %s --new-starting-hash-key %s",
						stream, aws.ToString(s.ShardId), key)}
			}
		}
	}
	return l
}

// heaviestKey is the key of the most bytes (the first by name among equals).
func heaviestKey(weights map[string]int64) string {
	best, bw := "", int64(-1)
	for k, w := range weights {
		if w > bw || (w == bw && k < best) {
			best, bw = k, w
		}
	}
	return best
}

// hashKey is the hash key Kinesis gives a partition key: MD5 of its bytes as
// a 128-bit big-endian unsigned integer.
func hashKey(partitionKey string) *big.Int {
	sum := md5.Sum([]byte(partitionKey))
	return new(big.Int).SetBytes(sum[:])
}

// splitKey returns the new starting hash key that splits the bytes of
// weights (by partition key) closest to half, for a shard whose range is
// [lo, hi]: the weighted median of the keys' hash keys. The child below the
// key gets [lo, key-1]. lower is the share of the bytes below the key,
// heaviest the share of the heaviest single hash key.
func splitKey(weights map[string]int64, lo, hi *big.Int) (key *big.Int, lower, heaviest float64, err error) {
	type point struct {
		h *big.Int
		w int64
	}
	var pts []point
	var total int64
	byHash := map[string]int{}
	for k, w := range weights {
		h := hashKey(k)
		if h.Cmp(lo) < 0 || h.Cmp(hi) > 0 {
			continue // placed by an explicit hash key, or not of this shard
		}
		if i, ok := byHash[h.String()]; ok {
			pts[i].w += w
		} else {
			byHash[h.String()] = len(pts)
			pts = append(pts, point{h, w})
		}
		total += w
	}
	if total == 0 || lo.Cmp(hi) >= 0 {
		return nil, 0, 0, errors.New("nothing to split")
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].h.Cmp(pts[j].h) < 0 })
	var maxW int64
	for _, p := range pts {
		maxW = max(maxW, p.w)
	}
	// Candidate keys: each point's hash (the point goes up) and its hash + 1
	// (the point stays below), within (lo, hi].
	one := big.NewInt(1)
	best, bestLower, bestDiff := (*big.Int)(nil), int64(0), int64(-1)
	var below int64
	try := func(k *big.Int, lower int64) {
		if k.Cmp(lo) <= 0 || k.Cmp(hi) > 0 {
			return
		}
		d := 2*lower - total
		if d < 0 {
			d = -d
		}
		if bestDiff < 0 || d < bestDiff {
			best, bestLower, bestDiff = k, lower, d
		}
	}
	for _, p := range pts {
		try(p.h, below)
		below += p.w
		try(new(big.Int).Add(p.h, one), below)
	}
	if best == nil || bestLower == 0 || bestLower == total {
		return nil, 0, 0, errors.New("nothing to split") // one hash key: a split leaves one side empty
	}
	return best, float64(bestLower) / float64(total), float64(maxW) / float64(total), nil
}

// writeLoads prints the measured load of the open shards after describe's
// table, and the split of each hot shard.
func writeLoads(w io.Writer, shards []types.Shard, loads map[string]*shardLoad, opts loadOptions) error {
	if len(loads) == 0 {
		return nil
	}
	var from, until time.Time
	for _, l := range loads {
		from = l.From // the same for every shard
		if l.Until.After(until) {
			until = l.Until
		}
	}
	fmt.Fprintf(w, "\nwrite load from %s to %s UTC (arrival time, %s), hot at %.0f%% of a write limit:\n",
		from.Format(time.DateTime), until.Format(time.TimeOnly), until.Sub(from).Round(time.Second), opts.hot*100)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tRECORDS\tRECORDS/S\tKIB/S\tUTILIZATION\tTOP KEYS (share of records)")
	var hot []string
	for _, s := range shards {
		id := aws.ToString(s.ShardId)
		l, ok := loads[id]
		if !ok {
			continue
		}
		if l.Error != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\tnot measured: %s\n", id, l.Error)
			continue
		}
		records := count(int64(l.Records))
		if l.Capped {
			records += " (cap)"
		}
		limit := "records"
		if l.BytesUtilization > l.RecordsUtilization {
			limit = "bytes"
		}
		util := fmt.Sprintf("%.1f%% %s", l.Utilization*100, limit)
		if l.Hot {
			util += " HOT"
			hot = append(hot, id)
		}
		var top []string
		for _, k := range l.TopKeys {
			top = append(top, fmt.Sprintf("%q %.1f%%", k.Key, k.RecordsShare*100))
		}
		if len(top) == 0 {
			top = []string{"-"}
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%s\t%s\n", id, records, l.RecordsPerSecond, l.BytesPerSecond/1024, util, strings.Join(top, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, id := range hot {
		l := loads[id]
		if l.Split == nil {
			fmt.Fprintf(w, "\n%s is hot and cannot be split further by what was measured\n", id)
			continue
		}
		fmt.Fprintf(w, "\n%s is hot: splitting it at hash key %s divides its measured bytes %.1f%% / %.1f%%:\n  %s\n",
			id, l.Split.NewStartingHashKey, l.Split.LowerBytesShare*100, (1-l.Split.LowerBytesShare)*100, l.Split.Command)
		if l.Split.HeaviestHashShare > 0.5 {
			fmt.Fprintf(w, "  partition key %q carries %.1f%% of its bytes: a split cannot divide a key;\n"+
				"  spread that key's records over several keys (a suffix) to even the shards\n", l.Split.HeaviestKey, l.Split.HeaviestHashShare*100)
		}
	}
	return nil
}
