package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/shardflow/shardflow/internal/testenv"
)

// TestDescribeHotShard puts a skewed stream into two shards against
// kinesalite (one key has 60% of the records) and checks what `streams
// describe` measures: the exact records and bytes of each shard, the hot
// shard flagged at the threshold, the skewed key first with its share, and a
// split key inside the shard's range that divides the measured bytes as
// evenly as any split can (the weighted median, computed here on its own).
func TestDescribeHotShard(t *testing.T) {
	srv := testenv.Kinesalite(t)
	kinesisEnv(t, srv)
	started := time.Now()
	testenv.CreateStream(t, srv.Client, "skewed", 2)

	const n, hotKey = 3000, "tenant-42"
	rng := rand.New(rand.NewPCG(11, 12))
	type rec struct {
		key  string
		size int // data plus partition key
	}
	var recs []rec
	var entries []types.PutRecordsRequestEntry
	for i := range n {
		key := hotKey
		if rng.Float64() >= 0.6 {
			key = fmt.Sprintf("user-%d", rng.IntN(400))
		}
		data := make([]byte, 50+rng.IntN(300))
		recs = append(recs, rec{key, len(data) + len(key)})
		entries = append(entries, types.PutRecordsRequestEntry{Data: data, PartitionKey: aws.String(key)})
		if len(entries) == 500 || i == n-1 {
			out, err := srv.Client.PutRecords(t.Context(), &awskinesis.PutRecordsInput{StreamName: aws.String("skewed"), Records: entries})
			if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
				t.Fatalf("put records: %v (%d failed)", err, aws.ToInt32(out.FailedRecordCount))
			}
			entries = nil
		}
	}

	// Which shard each record went to, by MD5 of its key, as Kinesis places it.
	shards := testenv.OpenShards(t, srv.Client, "skewed")
	inShard := func(s types.Shard, key string) bool {
		lo, _ := new(big.Int).SetString(*s.HashKeyRange.StartingHashKey, 10)
		hi, _ := new(big.Int).SetString(*s.HashKeyRange.EndingHashKey, 10)
		h := hashKey(key)
		return h.Cmp(lo) >= 0 && h.Cmp(hi) <= 0
	}
	hotShard, coldShard := shards[0], shards[1]
	if !inShard(hotShard, hotKey) {
		hotShard, coldShard = coldShard, hotShard
	}
	type tally struct {
		records, hotRecords int
		bytes               int64
		byHash              map[string]int64
	}
	tallyOf := func(s types.Shard) tally {
		tl := tally{byHash: map[string]int64{}}
		for _, r := range recs {
			if inShard(s, r.key) {
				tl.records++
				tl.bytes += int64(r.size)
				tl.byHash[hashKey(r.key).String()] += int64(r.size)
				if r.key == hotKey {
					tl.hotRecords++
				}
			}
		}
		return tl
	}
	hot, cold := tallyOf(hotShard), tallyOf(coldShard)

	// A threshold the hot shard clears for sure: its records over far more
	// time than the stream has existed when describe runs.
	threshold := float64(hot.records) / (time.Since(started).Seconds() + 15) / 1000
	code, out, errs := runCLI(t, "streams", "describe", "skewed", "--format", "json", "--hot", strconv.FormatFloat(threshold, 'g', -1, 64))
	if code != 0 {
		t.Fatalf("describe --format json: exit %d\n%s%s", code, out, errs)
	}
	var desc streamJSON
	if err := json.Unmarshal([]byte(out), &desc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	loadOf := func(id string) *shardLoad {
		for _, s := range desc.Shards {
			if s.ShardID == id {
				if s.Load == nil {
					t.Fatalf("%s has no load:\n%s", id, out)
				}
				return s.Load
			}
		}
		t.Fatalf("%s is not in the output:\n%s", id, out)
		return nil
	}
	hl, cl := loadOf(*hotShard.ShardId), loadOf(*coldShard.ShardId)
	for _, c := range []struct {
		l  *shardLoad
		tl tally
	}{{hl, hot}, {cl, cold}} {
		if c.l.Error != "" || c.l.Records != c.tl.records || c.l.Bytes != c.tl.bytes || c.l.Capped {
			t.Errorf("measured %d records, %d bytes (capped %v, error %q); put %d, %d", c.l.Records, c.l.Bytes, c.l.Capped, c.l.Error, c.tl.records, c.tl.bytes)
		}
		if want := float64(c.tl.records) / c.l.Seconds; math.Abs(c.l.RecordsPerSecond-want) > 1e-6*want || c.l.Hot != (c.l.Utilization >= threshold) {
			t.Errorf("%.1f records/s over %.1fs (want %.1f), utilization %.3f, hot %v at %.3f", c.l.RecordsPerSecond, c.l.Seconds, want, c.l.Utilization, c.l.Hot, threshold)
		}
	}
	if !hl.Hot {
		t.Errorf("the hot shard is not flagged: utilization %.3f at %.3f", hl.Utilization, threshold)
	}
	if cl.Split != nil && !cl.Hot {
		t.Errorf("a split for a shard that is not hot: %+v", cl.Split)
	}

	// The top key is the skewed one, with its true share of the shard: 0.6 of
	// the stream over 0.6 + 0.2 of it here.
	trueShare := float64(hot.hotRecords) / float64(hot.records)
	if len(hl.TopKeys) == 0 || hl.TopKeys[0].Key != hotKey || math.Abs(hl.TopKeys[0].RecordsShare-trueShare) > 1e-9 || math.Abs(trueShare-0.75) > 0.05 {
		t.Errorf("top keys %+v; want %q with %.3f of the records", hl.TopKeys, hotKey, trueShare)
	}
	if len(hl.TopKeys) != 5 {
		t.Errorf("%d top keys, want 5", len(hl.TopKeys))
	}

	// The split: inside the range, and as even as the exact weighted median.
	sp := hl.Split
	if sp == nil {
		t.Fatalf("no split suggested for the hot shard:\n%s", out)
	}
	key, ok := new(big.Int).SetString(sp.NewStartingHashKey, 10)
	lo, _ := new(big.Int).SetString(*hotShard.HashKeyRange.StartingHashKey, 10)
	hi, _ := new(big.Int).SetString(*hotShard.HashKeyRange.EndingHashKey, 10)
	if !ok || key.Cmp(lo) <= 0 || key.Cmp(hi) > 0 {
		t.Fatalf("split key %s outside (%s, %s]", sp.NewStartingHashKey, lo, hi)
	}
	var below int64
	for h, w := range hot.byHash {
		if hv, _ := new(big.Int).SetString(h, 10); hv.Cmp(key) < 0 {
			below += w
		}
	}
	if got := float64(below) / float64(hot.bytes); math.Abs(got-sp.LowerBytesShare) > 1e-9 {
		t.Errorf("the split puts %.4f of the bytes below it, describe says %.4f", got, sp.LowerBytesShare)
	}
	// The exact weighted median: the cut between two adjacent hash keys
	// whose sides differ least.
	hashes := make([]*big.Int, 0, len(hot.byHash))
	for h := range hot.byHash {
		hv, _ := new(big.Int).SetString(h, 10)
		hashes = append(hashes, hv)
	}
	sort.Slice(hashes, func(i, j int) bool { return hashes[i].Cmp(hashes[j]) < 0 })
	best := int64(math.MaxInt64)
	var cum int64
	for _, h := range hashes[:len(hashes)-1] {
		cum += hot.byHash[h.String()]
		best = min(best, abs64(2*cum-hot.bytes))
	}
	if got := abs64(2*below - hot.bytes); got != best {
		t.Errorf("the split leaves sides %d bytes apart; the weighted median leaves %d", got, best)
	}
	heaviest := float64(hot.byHash[hashKey(hotKey).String()]) / float64(hot.bytes)
	if sp.HeaviestKey != hotKey || math.Abs(sp.HeaviestHashShare-heaviest) > 1e-9 || math.Abs(sp.LowerBytesShare-0.5) > heaviest/2+1e-9 {
		t.Errorf("heaviest key share %.4f (want %.4f), lower share %.4f", sp.HeaviestHashShare, heaviest, sp.LowerBytesShare)
	}
	wantCmd := fmt.Sprintf("aws kinesis split-shard --stream-name skewed --shard-to-split %s --new-starting-hash-key %s", *hotShard.ShardId, key)
	if sp.Command != wantCmd {
		t.Errorf("command %q, want %q", sp.Command, wantCmd)
	}

	// The text output: the shard table, then the load table and the split.
	code, out, errs = runCLI(t, "streams", "describe", "skewed", "--hot", strconv.FormatFloat(threshold, 'g', -1, 64))
	if code != 0 {
		t.Fatalf("describe: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"skewed  ACTIVE  PROVISIONED  retention 24h  2 open shards, 0 closed",
		"SHARD                 RECORDS  RECORDS/S",
		fmt.Sprintf("%s  %s ", *hotShard.ShardId, count(int64(hot.records))),
		fmt.Sprintf("%% records HOT  %q %.1f%%", hotKey, trueShare*100),
		fmt.Sprintf("%s is hot: splitting it at hash key %s", *hotShard.ShardId, key),
		"  " + wantCmd + "\n",
		fmt.Sprintf("partition key %q carries %.1f%% of its bytes: a split cannot divide a key", hotKey, heaviest*100),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
	t.Logf("\n%s", out)

	// A record cap ends the measurement at the last record read.
	code, out, errs = runCLI(t, "streams", "describe", "skewed", "--format", "json", "--max-records", "100")
	if code != 0 {
		t.Fatalf("describe --max-records 100: exit %d\n%s%s", code, out, errs)
	}
	desc = streamJSON{}
	if err := json.Unmarshal([]byte(out), &desc); err != nil {
		t.Fatal(err)
	}
	if hl := loadOf(*hotShard.ShardId); hl.Records != 100 || !hl.Capped || !hl.Until.Before(time.Now()) || hl.Seconds <= 0 {
		t.Errorf("capped measurement: %+v", hl)
	}
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestHotSplitKey checks the weighted median on uniform keys (a near-even
// split) and the cases with nothing to split.
func TestHotSplitKey(t *testing.T) {
	lo, hi := big.NewInt(0), new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))
	w := map[string]int64{}
	for i := range 2000 {
		w[fmt.Sprintf("k%d", i)] = 100
	}
	key, lower, heaviest, err := splitKey(w, lo, hi)
	if err != nil || math.Abs(lower-0.5) > 0.0005 || heaviest != 1.0/2000 {
		t.Errorf("uniform: key %v, lower %.4f, heaviest %.5f, %v", key, lower, heaviest, err)
	}
	// Kinesis splits the hash space evenly by MD5: the median of 2,000
	// uniform keys is near the middle.
	mid := new(big.Int).Lsh(big.NewInt(1), 127)
	if d, _ := new(big.Float).Quo(new(big.Float).SetInt(new(big.Int).Sub(key, mid)), new(big.Float).SetInt(mid)).Float64(); math.Abs(d) > 0.1 {
		t.Errorf("uniform: split key %v is %.3f of the half space from the middle", key, d)
	}
	if _, _, _, err := splitKey(map[string]int64{"only": 5}, lo, hi); err == nil {
		t.Error("one key: a split should be refused")
	}
	if _, _, _, err := splitKey(map[string]int64{}, lo, hi); err == nil {
		t.Error("no keys: a split should be refused")
	}
	// A shard whose range holds none of the keys.
	h := hashKey("a")
	if _, _, _, err := splitKey(map[string]int64{"a": 1, "b": 1}, new(big.Int).Add(h, big.NewInt(1)), new(big.Int).Add(h, big.NewInt(2))); err == nil {
		t.Error("keys outside the range: a split should be refused")
	}
	// The MD5 hash key of a known partition key (as Kinesis computes it).
	if got := hashKey("").String(); got != "281949768489412648962353822266799178366" { // d41d8cd98f00b204e9800998ecf8427e
		t.Errorf("hashKey(\"\") = %s", got)
	}
}
