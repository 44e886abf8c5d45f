package windows

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"unsafe"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/axiomhq/hyperloglog"
	metro "github.com/dgryski/go-metro"
)

// ApproxCountDistinct estimates the number of distinct values of a string or
// integer column (int64). A group keeps the 64-bit hashes of its first
// hllExact (1024) distinct values, and counts them exactly; past that it
// turns into a dense HyperLogLog sketch (github.com/axiomhq/hyperloglog,
// precision 14: 16 KiB, standard error 1.04/sqrt(2^14) = 0.81%). Values hash
// with the library's MetroHash64 (seed 1337); integers count by value,
// whatever their width. Unlike CountDistinct its state does not grow past
// 16 KiB per group, and it merges across shards exactly: the union of the
// hashes, or register-wise max, so that rows spread over shards give what
// the same rows give from one.
func ApproxCountDistinct(name, col string) Agg { return Custom(name, col, hllFunc{}) }

// hllExact is the number of distinct hashes a group keeps before it turns
// into a HyperLogLog sketch. (The library's own sparse form re-merges its
// sorted list every 163 new values, which costs more than the dense sketch
// for groups of thousands of values.)
const hllExact = 1024

// hllSeed is the seed of axiomhq/hyperloglog's Insert (its format version 2
// pins it), so that InsertHash of these hashes is what Insert would do.
const hllSeed = 1337

type hllFunc struct{}

func (hllFunc) String() string { return "approx_count_distinct" }

func (hllFunc) Type(in arrow.DataType) (arrow.DataType, error) {
	if p := physOf(in); !p.isString() && !p.isInt() {
		return nil, fmt.Errorf("%s, want a string or integer", in)
	}
	return arrow.PrimitiveTypes.Int64, nil
}

func (hllFunc) New() AggState { return &hllState{small: newU64Set(0)} }

// hllState is a set of hashes (small) until it holds more than hllExact,
// then a dense sketch (sk).
type hllState struct {
	small *u64set
	sk    *hyperloglog.Sketch
}

func (h *hllState) insert(x uint64) {
	if h.sk != nil {
		h.sk.InsertHash(x)
		return
	}
	if x == emptyKey { // the set's free-cell marker
		x--
	}
	if h.small.insert(x) && h.small.len() > hllExact {
		h.densify()
	}
}

func (h *hllState) densify() {
	h.sk = hyperloglog.NewNoSparse()
	h.small.each(h.sk.InsertHash)
	h.small = nil
}

func (h *hllState) Add(arr arrow.Array, rows []int32) {
	switch a := arr.(type) {
	case *array.String:
		for _, r := range rows {
			h.insert(metro.Hash64(strBytes(a.Value(int(r))), hllSeed))
		}
	case *array.LargeString:
		for _, r := range rows {
			h.insert(metro.Hash64(strBytes(a.Value(int(r))), hllSeed))
		}
	default:
		p := physOf(arr.DataType())
		byPhys(p, hllInts[int8], hllInts[int16], hllInts[int32], hllInts[int64],
			hllInts[uint8], hllInts[uint16], hllInts[uint32], hllInts[uint64], nil, nil)(h, arr, rows)
	}
}

func hllInts[T intValue](h *hllState, arr arrow.Array, rows []int32) {
	vals := values[T](arr)
	var b [8]byte
	for _, r := range rows {
		binary.LittleEndian.PutUint64(b[:], uint64(int64(vals[r])))
		h.insert(metro.Hash64(b[:], hllSeed))
	}
}

func strBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

func (h *hllState) Merge(other AggState) {
	o := other.(*hllState)
	switch {
	case o.sk == nil:
		o.small.each(h.insert)
	case h.sk == nil:
		h.sk = o.sk.Clone()
		h.small.each(h.sk.InsertHash)
		h.small = nil
	default:
		_ = h.sk.Merge(o.sk) // dense sketches of one precision always merge
	}
}

func (h *hllState) Result(b array.Builder) error {
	n := int64(0)
	if h.sk != nil {
		n = int64(h.sk.Estimate())
	} else {
		n = int64(h.small.len())
	}
	b.(*array.Int64Builder).Append(n)
	return nil
}

// MarshalBinary encodes 0, the number of hashes and the hashes (8 bytes
// little-endian each), or 1 and the sketch in the library's format.
func (h *hllState) MarshalBinary() ([]byte, error) {
	if h.sk != nil {
		return h.sk.AppendBinary([]byte{1})
	}
	b := binary.AppendUvarint([]byte{0}, uint64(h.small.len()))
	h.small.each(func(x uint64) { b = binary.LittleEndian.AppendUint64(b, x) })
	return b, nil
}

func (h *hllState) UnmarshalBinary(data []byte) error {
	if len(data) == 0 {
		return errors.New("approx_count_distinct: empty state")
	}
	if data[0] == 1 {
		sk := hyperloglog.NewNoSparse()
		if err := sk.UnmarshalBinary(data[1:]); err != nil {
			return err
		}
		// Byte 1 of the sketch is its precision; another would not merge.
		if data[2] != 14 || data[4] != 0 {
			return errors.New("approx_count_distinct: not a dense precision-14 sketch")
		}
		h.small, h.sk = nil, sk
		return nil
	}
	n, k := binary.Uvarint(data[1:])
	if data[0] != 0 || k <= 0 || n > hllExact || uint64(len(data)-1-k) != 8*n {
		return errors.New("approx_count_distinct: bad hash set")
	}
	set := newU64Set(int(n))
	for i := range int(n) {
		x := binary.LittleEndian.Uint64(data[1+k+8*i:])
		if x == emptyKey || !set.insert(x) {
			return errors.New("approx_count_distinct: bad hash set")
		}
	}
	h.small, h.sk = set, nil
	return nil
}

// quantileAccuracy is the relative accuracy of Quantile, and quantileBins the
// most bins its sketch keeps per sign: 2048 bins of 1% cover values from 1 to
// about 1e17 before the lowest collapse.
const (
	quantileAccuracy = 0.01
	quantileBins     = 2048
)

// Quantile estimates the q-quantile (0 <= q <= 1; 0.5 is the median) of a
// numeric column (float64) with a DDSketch (github.com/DataDog/sketches-go):
// the result x is within 1% of the true quantile's value v,
// |x - v| <= 0.01·|v|, where v is the value of rank q·(n-1) in the sorted
// values, as long as the values span fewer than 2048 bins of 1% (a factor of
// about 1e17) on each side of zero. NaN and infinite values are skipped like
// nulls; no value gives null. The state is at most 2·2048 bins per group
// and merges across shards exactly (bin counts add).
func Quantile(name, col string, q float64) Agg {
	return Custom(name, col, quantileFunc{q: q})
}

type quantileFunc struct{ q float64 }

func (f quantileFunc) String() string {
	return "approx_quantile[" + strconv.FormatFloat(f.q, 'g', -1, 64) + "]"
}

func (f quantileFunc) Type(in arrow.DataType) (arrow.DataType, error) {
	if !(f.q >= 0 && f.q <= 1) {
		return nil, fmt.Errorf("quantile %g outside [0, 1]", f.q)
	}
	if !physOf(in).isNumber() {
		return nil, fmt.Errorf("%s, want a number", in)
	}
	return arrow.PrimitiveTypes.Float64, nil
}

var quantileMapping = func() mapping.IndexMapping {
	m, err := mapping.NewLogarithmicMapping(quantileAccuracy)
	if err != nil {
		panic(err) // a constant accuracy
	}
	return m
}()

func newQuantileSketch() *ddsketch.DDSketch {
	return ddsketch.NewDDSketch(quantileMapping,
		store.NewCollapsingLowestDenseStore(quantileBins), store.NewCollapsingLowestDenseStore(quantileBins))
}

func (f quantileFunc) New() AggState { return &quantileState{q: f.q, sk: newQuantileSketch()} }

type quantileState struct {
	q  float64
	sk *ddsketch.DDSketch
}

func (s *quantileState) Add(arr arrow.Array, rows []int32) {
	p := physOf(arr.DataType())
	byPhys(p, quantileAdd[int8], quantileAdd[int16], quantileAdd[int32], quantileAdd[int64],
		quantileAdd[uint8], quantileAdd[uint16], quantileAdd[uint32], quantileAdd[uint64],
		quantileAdd[float32], quantileAdd[float64])(s.sk, arr, rows)
}

func quantileAdd[T numValue](sk *ddsketch.DDSketch, arr arrow.Array, rows []int32) {
	vals := values[T](arr)
	for _, r := range rows {
		// Add refuses NaN and values beyond the mapping's range (infinities).
		_ = sk.Add(float64(vals[r]))
	}
}

func (s *quantileState) Merge(other AggState) {
	// Sketches of one mapping always merge.
	_ = s.sk.MergeWith(other.(*quantileState).sk)
}

func (s *quantileState) Result(b array.Builder) error {
	fb := b.(*array.Float64Builder)
	if s.sk.IsEmpty() {
		fb.AppendNull()
		return nil
	}
	v, err := s.sk.GetValueAtQuantile(s.q)
	if err != nil {
		return err
	}
	fb.Append(v)
	return nil
}

// MarshalBinary encodes the sketch in DDSketch's binary format, with its
// index mapping.
func (s *quantileState) MarshalBinary() ([]byte, error) {
	var b []byte
	s.sk.Encode(&b, false)
	return b, nil
}

// UnmarshalBinary decodes a sketch of the same mapping; another mapping is an
// error.
func (s *quantileState) UnmarshalBinary(data []byte) error {
	sk := newQuantileSketch()
	if err := sk.DecodeAndMergeWith(data); err != nil {
		return err
	}
	s.sk = sk
	return nil
}
