package generator

import (
	"math"
	"math/bits"
	"strconv"
)

// This file keeps the first encoder, as it was before the generator was made
// faster, as the reference that the current one must match byte for byte
// (TestEncoderMatchesV0). Do not change it: the events are a job's input.

type rngV0 struct{ state uint64 }

func newRNGV0(seed int64, shard int, i int64) rngV0 {
	h := mix64V0(uint64(seed) ^ 0x5f0e_d1c5_7a3b_9e21)
	h = mix64V0(h ^ uint64(shard)*0x9e37_79b9_7f4a_7c15)
	h = mix64V0(h ^ uint64(i))
	return rngV0{state: h}
}

func mix64V0(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58_476d_1ce4_e5b9
	z = (z ^ (z >> 27)) * 0x94d0_49bb_1331_11eb
	return z ^ (z >> 31)
}

func (r *rngV0) next() uint64 {
	r.state += 0x9e37_79b9_7f4a_7c15
	return mix64V0(r.state)
}

func (r *rngV0) float() float64 { return float64(r.next()>>11) / (1 << 53) }

func (r *rngV0) below(n uint64) uint64 {
	hi, _ := bits.Mul64(r.next(), n)
	return hi
}

func (p *params) eventTimeV0(r *rngV0, i int64) int64 {
	base := p.baseMs(i)
	u := r.float()
	late := int64(p.disorderMs * u * u * u * u)
	return max(base-late, p.startMs)
}

func skewedV0(r *rngV0, n int) int {
	x := r.float()
	return int(x * x * float64(n))
}

// appendEventV0 is appendEvent as it was first written.
func (p *params) appendEventV0(dst []byte, s int, i int64) ([]byte, string, int64) {
	r := newRNGV0(p.seed, s, i)
	start := len(dst)

	x := r.float()
	m := p.usersOf[s]
	j := uint64(float64(m) * x * x * math.Sqrt(x))
	if j >= m {
		j = m - 1
	}
	user := int(uint64(s) + j*uint64(p.shards))
	ts := p.eventTimeV0(&r, i)

	kind := r.below(100)
	var typ, page string
	var cents int64 = -1
	switch {
	case kind < 80:
		typ = PageView
		if r.below(2) == 0 {
			page = products[skewedV0(&r, len(products))].page
		} else {
			page = otherPages[skewedV0(&r, len(otherPages))]
		}
	case kind < 95:
		typ = AddToCart
		pr := products[skewedV0(&r, len(products))]
		page, cents = pr.page, pr.cents
	default:
		typ = Purchase
		page = "/checkout"
		cents = 999 + int64(r.below(49000))
	}
	ref := referrers[skewedV0(&r, len(referrers))]
	uid := "u" + pad4V0(user)

	dst = append(dst, `{"event_id":"e`...)
	dst = appendPaddedV0(dst, uint64(s), 4)
	dst = append(dst, '-')
	dst = strconv.AppendInt(dst, i, 10)
	dst = append(dst, `","user_id":"`...)
	dst = append(dst, uid...)
	dst = append(dst, `","session_id":"s`...)
	dst = appendHexV0(dst, mix64V0(uint64(p.seed)^mix64V0(uint64(user)<<32^uint64(floorDiv(ts, sessionLength)))), 12)
	dst = append(dst, `","event_type":"`...)
	dst = append(dst, typ...)
	dst = append(dst, `","page":"`...)
	dst = append(dst, page...)
	dst = append(dst, `","referrer":"`...)
	dst = append(dst, ref...)
	dst = append(dst, `","ts":"`...)
	dst = appendRFC3339Millis(dst, ts) // pinned by TestAppendRFC3339Millis against time.Format
	dst = append(dst, '"')
	if cents >= 0 {
		dst = append(dst, `,"price":`...)
		dst = strconv.AppendInt(dst, cents/100, 10)
		dst = append(dst, '.')
		dst = appendPaddedV0(dst, uint64(cents%100), 2)
	}
	dst = append(dst, '}')

	if p.badEvery > 0 && (i+1)%p.badEvery == 0 {
		dst = dst[:start+(len(dst)-start)/2]
	}
	return dst, uid, ts
}

func pad4V0(v int) string {
	s := strconv.Itoa(v)
	for len(s) < 4 {
		s = "0" + s
	}
	return s
}

func appendPaddedV0(dst []byte, v uint64, width int) []byte {
	var buf [20]byte
	n := len(buf)
	for v > 0 || n > len(buf)-width {
		n--
		buf[n] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, buf[n:]...)
}

func appendHexV0(dst []byte, v uint64, digits int) []byte {
	const hex = "0123456789abcdef"
	for k := digits - 1; k >= 0; k-- {
		dst = append(dst, hex[(v>>(4*uint(k)))&0xf])
	}
	return dst
}
