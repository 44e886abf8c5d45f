package kinesis

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardflow/shardflow/internal/spacesaving"
)

// A shard's write limits (see ../../../shared/KINESIS.md). Bytes are a
// record's data plus its partition key; a KPL aggregate is one record.
const (
	ShardWriteBytesPerSecond   = 1 << 20
	ShardWriteRecordsPerSecond = 1000
)

const (
	// LoadWindow is the span of arrival time over which a shard's write rate
	// is measured.
	LoadWindow = 60 * time.Second
	// HotKeyPeriod is the span of arrival time over which a shard's heaviest
	// partition keys are counted; then they are logged and counting starts
	// again.
	HotKeyPeriod = 5 * time.Minute
	// HotKeysReported is how many of a shard's heaviest keys are reported.
	HotKeysReported = 5

	hotKeyCounters = 100 // Space-Saving counters per shard: error <= 1% of the period's records
	windowSeconds  = int64(LoadWindow / time.Second)
)

// ShardLoad is a shard's write load, as measured from the records a reader
// read: rates per second of arrival time (ApproximateArrivalTimestamp), so
// that a replay of old data shows the rate it was written at.
type ShardLoad struct {
	Shard string
	// RecordsPerSecond and BytesPerSecond are Kinesis records (an aggregate
	// counts once) and their data plus partition key bytes, over the
	// LoadWindow of arrival time that ends at Until (or over the time since the
	// first record read, when that is shorter).
	RecordsPerSecond, BytesPerSecond float64
	Until                            time.Time
	// Bytes is the data plus partition key bytes of the Kinesis records the
	// shard's reader has read since it opened.
	Bytes int64
	// RecordsUtilization and BytesUtilization are the rates as shares of the
	// shard's write limits (1,000 records/s, 1 MiB/s).
	RecordsUtilization, BytesUtilization float64
	// Keys are the heaviest partition keys of the last complete HotKeyPeriod
	// of arrival time, from KeysFrom to KeysUntil (of the current period while
	// none is complete), heaviest first.
	Keys                []HotKey
	KeysFrom, KeysUntil time.Time
}

// Utilization is the larger of the two utilizations.
func (l ShardLoad) Utilization() float64 { return max(l.RecordsUtilization, l.BytesUtilization) }

// HotKey is one of a shard's heaviest partition keys over a period.
type HotKey struct {
	Key string
	// Records is an upper bound of the key's records in the period; the true
	// count is at least Records-MaxError (Space-Saving's guarantee).
	Records, MaxError int64
	// Share is Records over the period's records.
	Share float64
}

// Load returns the write load of every shard being read, by shard ID order.
// It is safe to call from any goroutine.
func (s *Source) Load() []ShardLoad {
	s.hot.mu.Lock()
	defer s.hot.mu.Unlock()
	out := make([]ShardLoad, 0, len(s.hot.shards))
	for _, l := range s.hot.shards {
		l.Keys = append([]HotKey(nil), l.Keys...)
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Shard < out[j].Shard })
	return out
}

// BytesRead returns, by shard, the bytes (ShardLoad.Bytes) read since the
// source was created, by the shard's readers open now and by those closed.
// It is safe to call from any goroutine.
func (s *Source) BytesRead() map[string]int64 {
	s.hot.mu.Lock()
	defer s.hot.mu.Unlock()
	out := make(map[string]int64, len(s.hot.shards)+len(s.hot.closed))
	for id, n := range s.hot.closed {
		out[id] = n
	}
	for id, l := range s.hot.shards {
		out[id] += l.Bytes
	}
	return out
}

// hotBoard is where readers publish their shard's load for Source.Load.
type hotBoard struct {
	mu     sync.Mutex
	shards map[string]ShardLoad
	closed map[string]int64 // by shard: the bytes its closed readers read
}

func (b *hotBoard) publish(l ShardLoad) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.shards == nil {
		b.shards = map[string]ShardLoad{}
	}
	b.shards[l.Shard] = l
}

func (b *hotBoard) remove(shard string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if l, ok := b.shards[shard]; ok && l.Bytes > 0 {
		if b.closed == nil {
			b.closed = map[string]int64{}
		}
		b.closed[shard] += l.Bytes
	}
	delete(b.shards, shard)
}

// arrivalRate counts records and bytes per second of arrival time over the
// last windowSeconds seconds, in a ring of one-second buckets. The window
// ends at the newest arrival seen, or later when the reader is caught up.
type arrivalRate struct {
	buckets    [windowSeconds]rateBucket
	started    bool
	first, end int64 // Unix seconds: the first second measured, the window's last
}

type rateBucket struct{ sec, records, bytes int64 }

// add counts one record that arrived at at. Records older than the window
// are not counted.
func (a *arrivalRate) add(at time.Time, bytes int) {
	sec := at.Unix()
	if !a.started {
		a.started, a.first, a.end = true, sec, sec
	}
	if sec < a.first {
		a.first = sec
	}
	a.end = max(a.end, sec)
	if sec <= a.end-windowSeconds {
		return
	}
	b := &a.buckets[((sec%windowSeconds)+windowSeconds)%windowSeconds]
	if b.sec != sec {
		*b = rateBucket{sec: sec}
	}
	b.records++
	b.bytes += int64(bytes)
}

// advance moves the window's end to to: nothing arrived before it that was
// not counted (the reader is caught up).
func (a *arrivalRate) advance(to time.Time) {
	sec := to.Unix()
	if !a.started {
		a.started, a.first, a.end = true, sec, sec
		return
	}
	a.end = max(a.end, sec)
}

// rate returns records and bytes per second over the window, or over the
// seconds since the first one measured when fewer.
func (a *arrivalRate) rate() (records, bytes float64) {
	if !a.started {
		return 0, 0
	}
	var r, b int64
	for _, k := range a.buckets {
		if k.sec > a.end-windowSeconds && k.sec <= a.end && (k.records > 0 || k.bytes > 0) {
			r += k.records
			b += k.bytes
		}
	}
	span := float64(min(windowSeconds, a.end-a.first+1))
	return float64(r) / span, float64(b) / span
}

// shardHot measures one shard's load; its reader's goroutine owns it.
type shardHot struct {
	rate        arrivalRate
	keys        *spacesaving.Sketch
	periodStart time.Time // of the current key period; zero before the first record
	done        bool      // a key period completed
	last        ShardLoad // what was published last, keys of the last complete period
	bytes       int64     // read since the reader opened (ShardLoad.Bytes)
}

func newShardHot() *shardHot {
	keys, _ := spacesaving.New(hotKeyCounters) // capacity > 0
	return &shardHot{keys: keys}
}

// noteArrival counts rec in the shard's write rate and hot keys. It is
// called for every Kinesis record a reader takes.
func (r *shardReader) noteArrival(rec *types.Record) {
	if r.hot == nil {
		r.hot = newShardHot()
	}
	h := r.hot
	pk := aws.ToString(rec.PartitionKey)
	h.bytes += int64(len(rec.Data) + len(pk))
	if t := rec.ApproximateArrivalTimestamp; t != nil {
		if h.periodStart.IsZero() {
			h.periodStart = *t
		} else if !t.Before(h.periodStart.Add(HotKeyPeriod)) {
			r.closeKeyPeriod(*t)
		}
		h.rate.add(*t, len(rec.Data)+len(pk))
	}
	h.keys.Add(pk, 1)
}

// noteLoad publishes the shard's load after an answer: to Source.Load and,
// when cfg.Metrics implements LoadMetrics, as metrics. When the answer said
// the reader is caught up, at (the call's start) ends the window: nothing
// arrived before it unread, so a shard that stopped being written to falls
// to zero.
func (r *shardReader) noteLoad(at time.Time, caughtUp bool) {
	if r.hot == nil {
		r.hot = newShardHot()
	}
	h := r.hot
	if caughtUp {
		h.rate.advance(at)
		if !h.periodStart.IsZero() && !at.Before(h.periodStart.Add(HotKeyPeriod)) {
			r.closeKeyPeriod(at)
		}
	}
	rec, b := h.rate.rate()
	l := ShardLoad{
		Shard: r.shard, RecordsPerSecond: rec, BytesPerSecond: b,
		RecordsUtilization: rec / ShardWriteRecordsPerSecond, BytesUtilization: b / ShardWriteBytesPerSecond,
		Keys: h.last.Keys, KeysFrom: h.last.KeysFrom, KeysUntil: h.last.KeysUntil, Bytes: h.bytes,
	}
	if h.rate.started {
		l.Until = time.Unix(h.rate.end+1, 0)
	}
	if !h.done && !h.periodStart.IsZero() {
		l.Keys, l.KeysFrom, l.KeysUntil = topKeys(h.keys), h.periodStart, l.Until
	}
	h.last = l
	r.src.hot.publish(l)
	if lm, ok := r.cfg.Metrics.(LoadMetrics); ok {
		lm.WriteRate(r.shard, rec, b)
		shares := make([]float64, len(l.Keys))
		for i, k := range l.Keys {
			shares[i] = k.Share
		}
		lm.HotKeyShares(r.shard, shares)
	}
}

// closeKeyPeriod ends the current key period at until (arrival time): its
// heaviest keys become the published ones and are logged, and a new period
// starts.
func (r *shardReader) closeKeyPeriod(until time.Time) {
	h := r.hot
	keys := topKeys(h.keys)
	h.done = true
	h.last.Keys, h.last.KeysFrom, h.last.KeysUntil = keys, h.periodStart, until
	rec, b := h.rate.rate()
	util := max(rec/ShardWriteRecordsPerSecond, b/ShardWriteBytesPerSecond)
	level := slog.LevelDebug
	if util >= 0.5 || (len(keys) > 0 && keys[0].Share >= 0.2) {
		level = slog.LevelInfo // worth a look: a busy shard, or a key with a fifth of it
	}
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%q %.1f%%", k.Key, k.Share*100))
	}
	r.log.Log(context.Background(), level, fmt.Sprintf("shard %s: heaviest partition keys: %s", r.shard, strings.Join(parts, ", ")),
		"from", h.periodStart.UTC().Format(time.RFC3339), "until", until.UTC().Format(time.RFC3339),
		"records", h.keys.Total(), "write_utilization", fmt.Sprintf("%.1f%%", util*100))
	h.keys.Reset()
	h.periodStart = until
}

// topKeys returns the sketch's HotKeysReported heaviest keys.
func topKeys(s *spacesaving.Sketch) []HotKey {
	total := s.Total()
	if total == 0 {
		return nil
	}
	var out []HotKey
	for _, it := range s.Top(HotKeysReported) {
		out = append(out, HotKey{Key: it.Key, Records: it.Count, MaxError: it.Err, Share: float64(it.Count) / float64(total)})
	}
	return out
}
