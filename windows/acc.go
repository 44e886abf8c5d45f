package windows

import (
	"github.com/apache/arrow-go/v18/arrow"
)

// storeMask says which of an acc's slices an aggregate uses.
type storeMask uint8

const (
	storeN storeMask = 1 << iota // counts
	storeI                       // int64 sums, signed and timestamp extrema
	storeU                       // uint64 extrema
	storeF                       // float64 sums and extrema
	storeT                       // event time of First and Last
	storeC                       // states of a custom aggregate (udaf.go)
)

// acc holds one aggregate's partial values in columns indexed by group slot:
// n counts rows or values, i/u/f hold sums or extrema. Which slices are used
// depends on the aggregate (aggPlan.store); the others stay nil.
type acc struct {
	n []int64
	i []int64
	u []uint64
	f []float64
	t []int64
	c *customCol
}

// grow appends one zeroed slot to the used slices.
func (a *acc) grow(m storeMask) {
	if m&storeN != 0 {
		a.n = append(a.n, 0)
	}
	if m&storeI != 0 {
		a.i = append(a.i, 0)
	}
	if m&storeU != 0 {
		a.u = append(a.u, 0)
	}
	if m&storeF != 0 {
		a.f = append(a.f, 0)
	}
	if m&storeT != 0 {
		a.t = append(a.t, 0)
	}
	if m&storeC != 0 {
		a.c = a.c.grow()
	}
}

// clearSlot zeroes slot s.
func (a *acc) clearSlot(m storeMask, s int32) {
	if m&storeN != 0 {
		a.n[s] = 0
	}
	if m&storeI != 0 {
		a.i[s] = 0
	}
	if m&storeU != 0 {
		a.u[s] = 0
	}
	if m&storeF != 0 {
		a.f[s] = 0
	}
	if m&storeT != 0 {
		a.t[s] = 0
	}
	if m&storeC != 0 {
		a.c.states[s] = nil
	}
}

// truncate drops every slot.
func (a *acc) truncate() {
	a.n, a.i, a.u, a.f, a.t = a.n[:0], a.i[:0], a.u[:0], a.f[:0], a.t[:0]
	a.c.truncate()
}

// mergeSlot folds src's slot s into dst's slot d. It is how shard partials
// combine when a window fires, and how session windows will combine when they
// merge. Count distinct is merged from the sets, not here.
func mergeSlot(ap *aggPlan, dst *acc, d int32, src *acc, s int32) {
	switch ap.kind {
	case kindCustom:
		mergeCustom(ap.fn, dst.c, d, src.c, s)
	case kindCount, kindCountIf:
		dst.n[d] += src.n[s]
	case kindSum, kindSumIf, kindAvg:
		if ap.store&storeN != 0 {
			dst.n[d] += src.n[s]
		}
		if ap.store&storeF != 0 {
			dst.f[d] += src.f[s]
		} else {
			dst.i[d] += src.i[s]
		}
	case kindFirst, kindLast:
		if src.n[s] == 0 {
			return
		}
		// Parts merge in shard-name order: on equal times First keeps the
		// earlier shard's value, Last takes the later one's.
		take := dst.n[d] == 0
		if !take {
			if ap.kind == kindFirst {
				take = src.t[s] < dst.t[d]
			} else {
				take = src.t[s] >= dst.t[d]
			}
		}
		dst.n[d] += src.n[s]
		if take {
			dst.t[d] = src.t[s]
			switch {
			case ap.store&storeF != 0:
				dst.f[d] = src.f[s]
			case ap.store&storeU != 0:
				dst.u[d] = src.u[s]
			default:
				dst.i[d] = src.i[s]
			}
		}
	case kindMin, kindMax:
		if src.n[s] == 0 {
			return
		}
		first := dst.n[d] == 0
		dst.n[d] += src.n[s]
		isMin := ap.kind == kindMin
		switch {
		case ap.store&storeF != 0:
			if first || (src.f[s] < dst.f[d]) == isMin && src.f[s] != dst.f[d] {
				dst.f[d] = src.f[s]
			}
		case ap.store&storeU != 0:
			if first || (src.u[s] < dst.u[d]) == isMin && src.u[s] != dst.u[d] {
				dst.u[d] = src.u[s]
			}
		default:
			if first || (src.i[s] < dst.i[d]) == isMin && src.i[s] != dst.i[d] {
				dst.i[d] = src.i[s]
			}
		}
	}
}

// updateFn folds the values of arr at rows into the slots (parallel to rows)
// of a. keep, when not nil, says per row of the batch whether the row counts
// (the value is valid and the predicate holds).
type updateFn func(a *acc, arr arrow.Array, keep []bool, rows, slots []int32)

type intValue interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

type numValue interface {
	intValue | ~float32 | ~float64
}

func values[T numValue](arr arrow.Array) []T {
	d := arr.Data()
	b := d.Buffers()[1]
	if b == nil || b.Len() == 0 {
		return nil
	}
	return arrow.GetData[T](b.Bytes())[d.Offset() : d.Offset()+d.Len()]
}

func byPhys[F any](p physType, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64 F) F {
	switch p {
	case pI8:
		return i8
	case pI16:
		return i16
	case pI32:
		return i32
	case pI64, pTS:
		return i64
	case pU8:
		return u8
	case pU16:
		return u16
	case pU32:
		return u32
	case pU64:
		return u64
	case pF32:
		return f32
	}
	return f64
}

func sumUpdater(p physType) updateFn {
	return byPhys(p, sumInt[int8], sumInt[int16], sumInt[int32], sumInt[int64],
		sumInt[uint8], sumInt[uint16], sumInt[uint32], sumInt[uint64], sumFloat[float32], sumFloat[float64])
}

func avgUpdater(p physType) updateFn {
	return byPhys(p, avgInt[int8], avgInt[int16], avgInt[int32], avgInt[int64],
		avgInt[uint8], avgInt[uint16], avgInt[uint32], avgInt[uint64], avgFloat[float32], avgFloat[float64])
}

func extremumUpdater(p physType, isMin bool) updateFn {
	if isMin {
		return byPhys(p, minI[int8], minI[int16], minI[int32], minI[int64],
			minI[uint8], minI[uint16], minI[uint32], minU, minF[float32], minF[float64])
	}
	return byPhys(p, maxI[int8], maxI[int16], maxI[int32], maxI[int64],
		maxI[uint8], maxI[uint16], maxI[uint32], maxU, maxF[float32], maxF[float64])
}

func sumInt[T intValue](a *acc, arr arrow.Array, keep []bool, rows, slots []int32) {
	vals, dst := values[T](arr), a.i
	if keep == nil {
		for j, r := range rows {
			dst[slots[j]] += int64(vals[r])
		}
		return
	}
	for j, r := range rows {
		if keep[r] {
			dst[slots[j]] += int64(vals[r])
		}
	}
}

func sumFloat[T ~float32 | ~float64](a *acc, arr arrow.Array, keep []bool, rows, slots []int32) {
	vals, dst := values[T](arr), a.f
	if keep == nil {
		for j, r := range rows {
			dst[slots[j]] += float64(vals[r])
		}
		return
	}
	for j, r := range rows {
		if keep[r] {
			dst[slots[j]] += float64(vals[r])
		}
	}
}

func avgInt[T intValue](a *acc, arr arrow.Array, keep []bool, rows, slots []int32) {
	vals, n, dst := values[T](arr), a.n, a.i
	for j, r := range rows {
		if keep == nil || keep[r] {
			s := slots[j]
			n[s]++
			dst[s] += int64(vals[r])
		}
	}
}

func avgFloat[T ~float32 | ~float64](a *acc, arr arrow.Array, keep []bool, rows, slots []int32) {
	vals, n, dst := values[T](arr), a.n, a.f
	for j, r := range rows {
		if keep == nil || keep[r] {
			s := slots[j]
			n[s]++
			dst[s] += float64(vals[r])
		}
	}
}

// Extrema keep a count of values in n; a slot with n = 0 has no value yet.

func minI[T intValue](a *acc, arr arrow.Array, keep []bool, rows, slots []int32) {
	vals, n, dst := values[T](arr), a.n, a.i
	for j, r := range rows {
		if keep == nil || keep[r] {
			s, v := slots[j], int64(vals[r])
			if n[s] == 0 || v < dst[s] {
				dst[s] = v
			}
			n[s]++
		}
	}
}

func maxI[T intValue](a *acc, arr arrow.Array, keep []bool, rows, slots []int32) {
	vals, n, dst := values[T](arr), a.n, a.i
	for j, r := range rows {
		if keep == nil || keep[r] {
			s, v := slots[j], int64(vals[r])
			if n[s] == 0 || v > dst[s] {
				dst[s] = v
			}
			n[s]++
		}
	}
}

func minU(a *acc, arr arrow.Array, keep []bool, rows, slots []int32) {
	vals, n, dst := values[uint64](arr), a.n, a.u
	for j, r := range rows {
		if keep == nil || keep[r] {
			s, v := slots[j], vals[r]
			if n[s] == 0 || v < dst[s] {
				dst[s] = v
			}
			n[s]++
		}
	}
}

func maxU(a *acc, arr arrow.Array, keep []bool, rows, slots []int32) {
	vals, n, dst := values[uint64](arr), a.n, a.u
	for j, r := range rows {
		if keep == nil || keep[r] {
			s, v := slots[j], vals[r]
			if n[s] == 0 || v > dst[s] {
				dst[s] = v
			}
			n[s]++
		}
	}
}

// Float extrema skip NaN, like nulls.

func minF[T ~float32 | ~float64](a *acc, arr arrow.Array, keep []bool, rows, slots []int32) {
	vals, n, dst := values[T](arr), a.n, a.f
	for j, r := range rows {
		if keep == nil || keep[r] {
			s, v := slots[j], float64(vals[r])
			if v != v {
				continue
			}
			if n[s] == 0 || v < dst[s] {
				dst[s] = v
			}
			n[s]++
		}
	}
}

func maxF[T ~float32 | ~float64](a *acc, arr arrow.Array, keep []bool, rows, slots []int32) {
	vals, n, dst := values[T](arr), a.n, a.f
	for j, r := range rows {
		if keep == nil || keep[r] {
			s, v := slots[j], float64(vals[r])
			if v != v {
				continue
			}
			if n[s] == 0 || v > dst[s] {
				dst[s] = v
			}
			n[s]++
		}
	}
}

// addFirstLast folds the values of arr at rows, with their event times ts
// (per row of the batch), into the slots of a. Rows come in arrival order, so
// on equal times First keeps the earlier row and Last takes the later one.
func addFirstLast(ap *aggPlan, a *acc, arr arrow.Array, ts []int64, keep []bool, rows, slots []int32) {
	isFirst := ap.kind == kindFirst
	var get func(r int32, s int32)
	switch {
	case ap.store&storeF != 0:
		if ap.phys == pF32 {
			v := values[float32](arr)
			get = func(r, s int32) { a.f[s] = float64(v[r]) }
		} else {
			v := values[float64](arr)
			get = func(r, s int32) { a.f[s] = v[r] }
		}
	case ap.store&storeU != 0:
		v := values[uint64](arr)
		get = func(r, s int32) { a.u[s] = v[r] }
	default:
		get = intGetterOf(ap.phys, a, arr)
	}
	n, t := a.n, a.t
	for j, r := range rows {
		if keep != nil && !keep[r] {
			continue
		}
		s, tr := slots[j], ts[r]
		if n[s] == 0 || (isFirst && tr < t[s]) || (!isFirst && tr >= t[s]) {
			t[s] = tr
			get(r, s)
		}
		n[s]++
	}
}

// intGetterOf returns the getter of arr's integer type p (or timestamp),
// built alone: a getter of a wider type would read past arr's buffer.
func intGetterOf(p physType, a *acc, arr arrow.Array) func(r, s int32) {
	switch p {
	case pI8:
		return intGetter[int8](a, arr)
	case pI16:
		return intGetter[int16](a, arr)
	case pI32:
		return intGetter[int32](a, arr)
	case pU8:
		return intGetter[uint8](a, arr)
	case pU16:
		return intGetter[uint16](a, arr)
	case pU32:
		return intGetter[uint32](a, arr)
	}
	return intGetter[int64](a, arr) // pI64, pTS
}

func intGetter[T intValue](a *acc, arr arrow.Array) func(r, s int32) {
	v := values[T](arr)
	return func(r, s int32) { a.i[s] = int64(v[r]) }
}
