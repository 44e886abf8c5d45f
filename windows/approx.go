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
)

// ApproxCountDistinct estimates the number of distinct values of a string or
// integer column (int64) with a HyperLogLog sketch (github.com/axiomhq/hyperloglog,
// precision 14: 16 KiB per group at most, sparse while the group is small;
// standard error 1.04/sqrt(2^14) = 0.81%, exact in practice for small
// counts). Integers count by value, whatever their width. Unlike
// CountDistinct its state does not grow with the number of values, and it
// merges across shards in a register-wise max.
func ApproxCountDistinct(name, col string) Agg { return Custom(name, col, hllFunc{}) }

type hllFunc struct{}

func (hllFunc) String() string { return "approx_count_distinct" }

func (hllFunc) Type(in arrow.DataType) (arrow.DataType, error) {
	if p := physOf(in); !p.isString() && !p.isInt() {
		return nil, fmt.Errorf("%s, want a string or integer", in)
	}
	return arrow.PrimitiveTypes.Int64, nil
}

func (hllFunc) New() AggState { return &hllState{hyperloglog.New14()} }

type hllState struct{ sk *hyperloglog.Sketch }

func (h *hllState) Add(arr arrow.Array, rows []int32) {
	switch a := arr.(type) {
	case *array.String:
		for _, r := range rows {
			h.sk.Insert(strBytes(a.Value(int(r))))
		}
	case *array.LargeString:
		for _, r := range rows {
			h.sk.Insert(strBytes(a.Value(int(r))))
		}
	default:
		p := physOf(arr.DataType())
		byPhys(p, hllInts[int8], hllInts[int16], hllInts[int32], hllInts[int64],
			hllInts[uint8], hllInts[uint16], hllInts[uint32], hllInts[uint64], nil, nil)(h.sk, arr, rows)
	}
}

func hllInts[T intValue](sk *hyperloglog.Sketch, arr arrow.Array, rows []int32) {
	vals := values[T](arr)
	var b [8]byte
	for _, r := range rows {
		binary.LittleEndian.PutUint64(b[:], uint64(int64(vals[r])))
		sk.Insert(b[:])
	}
}

func strBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

func (h *hllState) Merge(other AggState) {
	// Sketches of one precision always merge.
	_ = h.sk.Merge(other.(*hllState).sk)
}

func (h *hllState) Result(b array.Builder) error {
	b.(*array.Int64Builder).Append(int64(h.sk.Estimate()))
	return nil
}

func (h *hllState) MarshalBinary() ([]byte, error) { return h.sk.MarshalBinary() }

func (h *hllState) UnmarshalBinary(data []byte) error {
	sk := hyperloglog.New14()
	if err := sk.UnmarshalBinary(data); err != nil {
		return err
	}
	if data[1] != 14 { // byte 1 is the precision; another would not merge
		return errors.New("hyperloglog: not a precision-14 sketch")
	}
	h.sk = sk
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
