package kpl

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/awslabs/kinesis-aggregation/go/v2/deaggregator"
	awsrecords "github.com/awslabs/kinesis-aggregation/go/v2/records"
	protov1 "github.com/golang/protobuf/proto"
)

type userRecord struct {
	Sub  int64
	Key  string
	Data string
}

func collect(t *testing.T, agg []byte) []userRecord {
	t.Helper()
	var out []userRecord
	err := Deaggregate(agg, func(sub int64, key string, data []byte) error {
		out = append(out, userRecord{sub, key, string(data)})
		return nil
	})
	if err != nil {
		t.Fatalf("Deaggregate: %v", err)
	}
	return out
}

// frame wraps a protobuf body in magic and MD5 trailer.
func frame(body []byte) []byte {
	sum := md5.Sum(body)
	out := append(append([]byte{}, Magic[:]...), body...)
	return append(out, sum[:]...)
}

// golden is an AggregatedRecord written byte by byte from the .proto field
// numbers: keys ["a","bc"], explicit hash key table ["42"], records
// {pk 0, data "x"}, {pk 1, ehk 0, data "yz", tag {k:"t"}}, {pk 0, data ""}.
var golden = []byte{
	0x0a, 0x01, 'a', // 1: partition_key_table "a"
	0x0a, 0x02, 'b', 'c', // 1: partition_key_table "bc"
	0x12, 0x02, '4', '2', // 2: explicit_hash_key_table "42"
	0x1a, 0x05, // 3: records, 5 bytes
	0x08, 0x00, //   1: partition_key_index 0
	0x1a, 0x01, 'x', //   3: data "x"
	0x1a, 0x0d, // 3: records, 13 bytes
	0x08, 0x01, //   1: partition_key_index 1
	0x10, 0x00, //   2: explicit_hash_key_index 0
	0x1a, 0x02, 'y', 'z', //   3: data "yz"
	0x22, 0x03, 0x0a, 0x01, 't', //   4: tags {1: key "t"}
	0x1a, 0x04, // 3: records, 4 bytes
	0x08, 0x00, //   1: partition_key_index 0
	0x1a, 0x00, //   3: data ""
}

func TestGoldenVector(t *testing.T) {
	agg := frame(golden)
	if !IsAggregated(agg) {
		t.Fatal("IsAggregated = false for the golden aggregate")
	}
	got := collect(t, agg)
	want := []userRecord{{0, "a", "x"}, {1, "bc", "yz"}, {2, "a", ""}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if n, err := Count(agg); err != nil || n != 3 {
		t.Fatalf("Count = %d, %v; want 3", n, err)
	}
}

// TestAggregatorGolden checks the encoder against bytes written by hand.
func TestAggregatorGolden(t *testing.T) {
	a, err := NewAggregator(0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ k, d string }{{"a", "x"}, {"bc", "yz"}, {"a", ""}} {
		if full, err := a.Add(r.k, []byte(r.d)); err != nil || full != nil {
			t.Fatalf("Add(%q) = %v, %v", r.k, full, err)
		}
	}
	wantBody := []byte{
		0x0a, 0x01, 'a', 0x0a, 0x02, 'b', 'c',
		0x1a, 0x05, 0x08, 0x00, 0x1a, 0x01, 'x',
		0x1a, 0x06, 0x08, 0x01, 0x1a, 0x02, 'y', 'z',
		0x1a, 0x04, 0x08, 0x00, 0x1a, 0x00,
	}
	size := a.Size()
	agg := a.Flush()
	if !bytes.Equal(agg.Data, frame(wantBody)) {
		t.Fatalf("aggregate\n got %x\nwant %x", agg.Data, frame(wantBody))
	}
	if agg.PartitionKey != "a" || agg.Records != 3 {
		t.Fatalf("aggregate key %q records %d", agg.PartitionKey, agg.Records)
	}
	if size != len(agg.Data)+len(agg.PartitionKey) {
		t.Fatalf("Size() = %d before Flush, aggregate takes %d", size, len(agg.Data)+len(agg.PartitionKey))
	}
	if a.Flush() != nil || a.Len() != 0 || a.Size() != 0 {
		t.Fatal("aggregator not empty after Flush")
	}
}

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name     string
		records  int
		keys     int
		maxData  int
		maxBytes int
	}{
		{"one", 1, 1, 10, 0},
		{"many keys", 5000, 1000, 200, 0},
		{"one key", 3000, 1, 100, 0},
		{"small limit", 2000, 50, 300, 4096},
		{"empty data", 100, 3, 0, 256},
		{"big records", 40, 5, 200_000, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := NewAggregator(tc.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			limit := cmpOr(tc.maxBytes, DefaultMaxBytes)
			var want, got []userRecord
			var aggs []*Aggregate
			for i := range tc.records {
				key := fmt.Sprintf("user-%d", rng.IntN(tc.keys))
				data := make([]byte, rng.IntN(tc.maxData+1))
				for j := range data {
					data[j] = byte(rng.Uint32())
				}
				want = append(want, userRecord{Key: key, Data: string(data)})
				full, err := a.Add(key, data)
				if err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				if full != nil {
					aggs = append(aggs, full)
				}
			}
			if last := a.Flush(); last != nil {
				aggs = append(aggs, last)
			}
			for i, agg := range aggs {
				if n := len(agg.Data) + len(agg.PartitionKey); n > limit {
					t.Fatalf("aggregate %d takes %d bytes, limit %d", i, n, limit)
				}
				recs := collect(t, agg.Data)
				if len(recs) != agg.Records || recs[0].Key != agg.PartitionKey {
					t.Fatalf("aggregate %d: %d records (says %d), first key %q (says %q)", i, len(recs), agg.Records, recs[0].Key, agg.PartitionKey)
				}
				for j, r := range recs {
					if r.Sub != int64(j) {
						t.Fatalf("aggregate %d record %d has sub %d", i, j, r.Sub)
					}
					r.Sub = 0
					got = append(got, r)
				}
			}
			if len(got) != len(want) {
				t.Fatalf("got %d records, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("record %d: got %q/%d bytes, want %q/%d bytes", i, got[i].Key, len(got[i].Data), want[i].Key, len(want[i].Data))
				}
			}
		})
	}
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// TestAggregatorFillsToLimit checks that aggregates are packed close to the
// limit and never over it, whatever the varint boundaries do.
func TestAggregatorFillsToLimit(t *testing.T) {
	for _, limit := range []int{100, 200, 1000, 16384, DefaultMaxBytes} {
		a, err := NewAggregator(limit)
		if err != nil {
			t.Fatal(err)
		}
		data := bytes.Repeat([]byte{'d'}, 37)
		for i := range 60000 {
			full, err := a.Add(fmt.Sprintf("k%d", i%300), data)
			if err != nil {
				t.Fatal(err)
			}
			if full == nil {
				if a.Size() > limit {
					t.Fatalf("limit %d: open aggregate at %d bytes", limit, a.Size())
				}
				continue
			}
			n := len(full.Data) + len(full.PartitionKey)
			// the next record (at most ~50 bytes with a new key) did not fit
			if n > limit || n < limit-60 {
				t.Fatalf("limit %d: aggregate of %d bytes", limit, n)
			}
		}
	}
}

func TestAggregatorErrors(t *testing.T) {
	for _, limit := range []int{-1, 1, 63, 11 << 20} {
		if _, err := NewAggregator(limit); err == nil {
			t.Errorf("NewAggregator(%d) accepted", limit)
		}
	}
	a, err := NewAggregator(1000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Add("k", []byte("small")); err != nil {
		t.Fatal(err)
	}
	_, err = a.Add("k", make([]byte, 990))
	if !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("Add(990 bytes) = %v, want ErrRecordTooLarge", err)
	}
	if a.Len() != 1 {
		t.Fatalf("a rejected record changed the aggregator: Len = %d", a.Len())
	}
	if got := collect(t, a.Flush().Data); len(got) != 1 || got[0].Data != "small" {
		t.Fatalf("got %v", got)
	}
}

func TestDeaggregateErrors(t *testing.T) {
	good := frame(golden)
	badSum := bytes.Clone(good)
	badSum[len(badSum)-1] ^= 1
	flipped := bytes.Clone(good)
	flipped[10] ^= 0x40
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrNotAggregated},
		{"plain record", []byte(`{"user_id":"u1"}`), ErrNotAggregated},
		{"magic only", Magic[:], ErrNotAggregated},
		{"short trailer", good[:Overhead-1], ErrNotAggregated},
		{"bad checksum", badSum, ErrChecksum},
		{"body bit flip", flipped, ErrChecksum},
		{"truncated body", frame(golden[:len(golden)-3]), ErrMalformed},
		{"truncated length", frame([]byte{0x1a, 0x80}), ErrMalformed},
		{"record wire type", frame([]byte{0x18, 0x01}), ErrMalformed},
		{"key table wire type", frame([]byte{0x08, 0x01}), ErrMalformed},
		{"record field wire type", frame([]byte{0x0a, 0x01, 'a', 0x1a, 0x02, 0x0a, 0x00}), ErrMalformed},
		{"data wire type", frame([]byte{0x0a, 0x01, 'a', 0x1a, 0x02, 0x18, 0x00}), ErrMalformed},
		{"field number 0", frame([]byte{0x02, 0x00}), ErrMalformed},
		{"bad tag in tags", frame([]byte{0x0a, 0x01, 'a', 0x1a, 0x04, 0x22, 0x02, 0x08, 0x01}), ErrMalformed},
		{"key index out of range", frame([]byte{0x0a, 0x01, 'a', 0x1a, 0x02, 0x08, 0x01}), ErrIndexOutOfRange},
		{"no key table", frame([]byte{0x1a, 0x02, 0x1a, 0x00}), ErrIndexOutOfRange},
		{"hash index out of range", frame([]byte{0x0a, 0x01, 'a', 0x1a, 0x02, 0x10, 0x00}), ErrIndexOutOfRange},
		{"huge key index", frame([]byte{0x0a, 0x01, 'a', 0x1a, 0x0b, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}), ErrIndexOutOfRange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := Deaggregate(tc.data, func(int64, string, []byte) error { calls++; return nil })
			if !errors.Is(err, tc.want) {
				t.Fatalf("Deaggregate = %v, want %v", err, tc.want)
			}
			if calls != 0 {
				t.Fatalf("fn called %d times on an invalid aggregate", calls)
			}
			if _, err := Count(tc.data); !errors.Is(err, tc.want) {
				t.Fatalf("Count = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestDeaggregateTolerant covers encodings that are valid protobuf although
// our encoder never writes them.
func TestDeaggregateTolerant(t *testing.T) {
	for _, tc := range []struct {
		name string
		body []byte
		want []userRecord
	}{
		{"no records", nil, nil},
		{"tables after records", []byte{0x1a, 0x03, 0x1a, 0x01, 'x', 0x0a, 0x01, 'k'}, []userRecord{{0, "k", "x"}}},
		{"unknown fields", []byte{0x0a, 0x01, 'k', 0x28, 0x07, 0x1a, 0x07, 0x30, 0x01, 0x08, 0x00, 0x1a, 0x01, 'x', 0x3d, 1, 2, 3, 4}, []userRecord{{0, "k", "x"}}},
		{"proto3 defaults omitted", []byte{0x0a, 0x01, 'k', 0x1a, 0x00}, []userRecord{{0, "k", ""}}},
		{"last data wins", []byte{0x0a, 0x01, 'k', 0x1a, 0x06, 0x1a, 0x01, 'a', 0x1a, 0x01, 'b'}, []userRecord{{0, "k", "b"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := collect(t, frame(tc.body)); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDeaggregateStopsOnCallbackError(t *testing.T) {
	stop := errors.New("stop")
	calls := 0
	err := Deaggregate(frame(golden), func(sub int64, _ string, _ []byte) error {
		calls++
		if sub == 1 {
			return stop
		}
		return nil
	})
	if err != stop || calls != 2 {
		t.Fatalf("err %v after %d calls, want stop after 2", err, calls)
	}
}

func TestDeaggregateZeroCopy(t *testing.T) {
	agg := frame(golden)
	err := Deaggregate(agg, func(sub int64, _ string, data []byte) error {
		if len(data) > 0 && &data[0] != &agg[bytes.Index(agg, data)] {
			t.Errorf("record %d data is a copy", sub)
		}
		if cap(data) != len(data) {
			t.Errorf("record %d data has capacity %d > length %d", sub, cap(data), len(data))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestInteropAWSLabs checks the format against the protobuf code generated by
// awslabs/kinesis-aggregation, both ways.
func TestInteropAWSLabs(t *testing.T) {
	// theirs -> ours
	keys := []string{"alpha", "beta", "gamma"}
	msg := &awsrecords.AggregatedRecord{PartitionKeyTable: keys, ExplicitHashKeyTable: []string{"123"}}
	var want []userRecord
	for i := range 50 {
		r := &awsrecords.Record{PartitionKeyIndex: aws.Uint64(uint64(i % 3)), Data: fmt.Appendf(nil, "rec-%d", i)}
		if i%7 == 0 {
			r.ExplicitHashKeyIndex = aws.Uint64(0)
			r.Tags = []*awsrecords.Tag{{Key: aws.String("t"), Value: aws.String("v")}}
		}
		msg.Records = append(msg.Records, r)
		want = append(want, userRecord{int64(i), keys[i%3], fmt.Sprintf("rec-%d", i)})
	}
	body, err := protov1.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	if got := collect(t, frame(body)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ours read theirs:\n got %v\nwant %v", got, want)
	}

	// ours -> theirs
	a, err := NewAggregator(0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range want {
		if _, err := a.Add(r.Key, []byte(r.Data)); err != nil {
			t.Fatal(err)
		}
	}
	agg := a.Flush()
	out, err := deaggregator.DeaggregateRecords([]types.Record{{Data: agg.Data, PartitionKey: aws.String(agg.PartitionKey), SequenceNumber: aws.String("1")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(want) {
		t.Fatalf("theirs read %d records of ours, want %d", len(out), len(want))
	}
	for i, r := range out {
		if aws.ToString(r.PartitionKey) != want[i].Key || string(r.Data) != want[i].Data {
			t.Fatalf("theirs read record %d as %q/%q, want %q/%q", i, aws.ToString(r.PartitionKey), r.Data, want[i].Key, want[i].Data)
		}
	}
}

func BenchmarkDeaggregate(b *testing.B) {
	a, _ := NewAggregator(0)
	data := bytes.Repeat([]byte("x"), 200)
	var agg *Aggregate
	for i := 0; agg == nil; i++ {
		agg, _ = a.Add(fmt.Sprintf("user-%d", i%500), data)
	}
	b.SetBytes(int64(len(agg.Data)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		_ = Deaggregate(agg.Data, func(int64, string, []byte) error { n++; return nil })
	}
	b.ReportMetric(float64(agg.Records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkAggregate(b *testing.B) {
	a, _ := NewAggregator(0)
	data := bytes.Repeat([]byte("x"), 200)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_, _ = a.Add(fmt.Sprintf("user-%d", i%500), data)
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
