package kpl

import (
	"bytes"
	"errors"
	"testing"
	"unsafe"
)

// FuzzDeaggregate feeds arbitrary bodies (framed with a valid checksum, so the
// protobuf parser is reached) and arbitrary raw bytes. Deaggregate must not
// panic, must agree with Count, must hand out data that lies inside the
// input, and must either fail without calling fn or succeed; a successful
// result re-encoded by Aggregator must read back the same.
func FuzzDeaggregate(f *testing.F) {
	f.Add(golden, false)
	f.Add([]byte{0x1a, 0x03, 0x1a, 0x01, 'x', 0x0a, 0x01, 'k'}, false)
	f.Add([]byte{0x0a, 0x01, 'a', 0x1a, 0x02, 0x08, 0x01}, false)
	f.Add(frame(golden), true)
	f.Add([]byte{0xF3, 0x89, 0x9A, 0xC2}, true)
	f.Fuzz(func(t *testing.T, in []byte, raw bool) {
		data := in
		if !raw {
			data = frame(in)
		}
		type rec struct {
			key  string
			data []byte
		}
		var recs []rec
		err := Deaggregate(data, func(sub int64, key string, d []byte) error {
			if sub != int64(len(recs)) {
				t.Fatalf("sub %d after %d records", sub, len(recs))
			}
			if len(d) > 0 && !inside(d, data) {
				t.Fatal("record data outside the input")
			}
			recs = append(recs, rec{key, d})
			return nil
		})
		n, cerr := Count(data)
		if (err == nil) != (cerr == nil) || (err == nil && n != len(recs)) {
			t.Fatalf("Deaggregate: %d records, %v; Count: %d, %v", len(recs), err, n, cerr)
		}
		if err != nil {
			if len(recs) != 0 {
				t.Fatalf("fn called %d times before error %v", len(recs), err)
			}
			if !errors.Is(err, ErrNotAggregated) && !errors.Is(err, ErrChecksum) &&
				!errors.Is(err, ErrMalformed) && !errors.Is(err, ErrIndexOutOfRange) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if !raw && !IsAggregated(data) {
			t.Fatal("valid aggregate not IsAggregated")
		}
		// re-encode and read back
		a, _ := NewAggregator(10 << 20)
		for _, r := range recs {
			if _, err := a.Add(r.key, r.data); err != nil {
				return // too large to re-aggregate at once: nothing to compare
			}
		}
		agg := a.Flush()
		if agg == nil {
			return
		}
		i := 0
		err = Deaggregate(agg.Data, func(_ int64, key string, d []byte) error {
			if key != recs[i].key || !bytes.Equal(d, recs[i].data) {
				t.Fatalf("re-encoded record %d differs", i)
			}
			i++
			return nil
		})
		if err != nil || i != len(recs) {
			t.Fatalf("re-encoded aggregate: %d records, %v", i, err)
		}
	})
}

// inside reports whether sub's bytes lie within whole's memory.
func inside(sub, whole []byte) bool {
	if len(whole) == 0 {
		return false
	}
	s, w := uintptr(unsafe.Pointer(&sub[0])), uintptr(unsafe.Pointer(&whole[0]))
	return s >= w && s+uintptr(len(sub)) <= w+uintptr(len(whole))
}
