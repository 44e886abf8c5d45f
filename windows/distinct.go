package windows

import "math/bits"

// distinctSet holds, per group, the distinct value ids that one shard has seen
// in one window for one CountDistinct aggregate. A group starts sparse: its
// (slot, value id) pairs live in a hash set shared by the window's groups. A
// group with many values becomes dense: a bitmap over the value ids, which
// costs a bit per value of the dict instead of about 13 bytes per value of the
// group, and turns inserts and merges into cache-friendly bit operations.
//
// The shard's acc of the aggregate holds, per slot, the group's exact number
// of distinct values (n) and its representation (i): 0 sparse, -1 sparse and
// due to become dense, k > 0 dense in bitmap k-1.
type distinctSet struct {
	sparse *u64set
	dense  [][]uint64
	sink   uint64 // keeps the reads of addDistinctRows' first pass

	denseBytes int64 // of the bitmaps in dense, for the state's size
}

// denseAt is the number of distinct values from which a group becomes dense,
// for a dict of dictLen values: where the bitmap gets smaller than the pairs.
func denseAt(dictLen int) int64 { return int64(max(64, dictLen/100)) }

// add records value id v for slot s and reports whether s just became due to
// turn dense (see densify).
func (d *distinctSet) add(a *acc, s int32, v uint32, due int64) bool {
	if bi := a.i[s]; bi > 0 {
		bm := d.dense[bi-1]
		w := int(v >> 6)
		if w >= len(bm) {
			c := cap(bm)
			bm = append(bm, make([]uint64, w+1-len(bm)+len(bm)/2)...)
			d.dense[bi-1] = bm
			d.denseBytes += 8 * int64(cap(bm)-c)
		}
		if bit := uint64(1) << (v & 63); bm[w]&bit == 0 {
			bm[w] |= bit
			a.n[s]++
		}
		return false
	}
	if !d.sparse.insert(uint64(s)<<32 | uint64(v)) {
		return false
	}
	a.n[s]++
	if a.n[s] >= due && a.i[s] == 0 {
		a.i[s] = -1
		return true
	}
	return false
}

// addDistinctRows adds value vids[r] for every row r of rows that keep keeps
// (nil: all) to the set of its group, slots[j] in window bwins[wins[j]], for
// aggregate ai. Bit i of the result is set if window i of the batch has
// groups due to turn dense.
//
// The sets are larger than the cache and the values come in no order, so
// most adds miss the cache. A first pass only reads the word each add will
// touch, in a loop short enough that many of those misses are in flight at
// once; the adds then find their words in the cache.
func addDistinctRows(bwins []*winState, ai int, a *acc, vids []uint32, keep []bool, rows, slots, wins []int32, due int64) uint64 {
	var sink uint64
	for j, r := range rows {
		if bi := a.i[slots[j]]; bi > 0 {
			bm := bwins[wins[j]].dsets[ai].dense[bi-1]
			if w := int(vids[r] >> 6); w < len(bm) {
				sink += bm[w]
			}
		}
	}
	if len(bwins) > 0 {
		bwins[0].dsets[ai].sink = sink
	}
	var turning uint64
	for j, r := range rows {
		if keep == nil || keep[r] {
			if bwins[wins[j]].dsets[ai].add(a, slots[j], vids[r], due) {
				turning |= 1 << (uint(wins[j]) & 63)
			}
		}
	}
	return turning
}

// densify turns ws's due groups dense, moving their values out of the sparse
// set. scratch is reused for the values that stay sparse.
func (d *distinctSet) densify(a *acc, ws *winState, dictLen int, scratch []uint64) []uint64 {
	words := (dictLen + 63) / 64
	for _, s := range ws.gslots {
		if a.i[s] == -1 {
			d.dense = append(d.dense, make([]uint64, words))
			d.denseBytes += 8 * int64(words)
			a.i[s] = int64(len(d.dense))
		}
	}
	scratch = scratch[:0]
	for _, k := range d.sparse.keys {
		if k == emptyKey {
			continue
		}
		if bi := a.i[int32(k>>32)]; bi > 0 {
			v := uint32(k)
			bm := d.dense[bi-1]
			if int(v>>6) >= len(bm) { // the dict grew
				c := cap(bm)
				bm = append(bm, make([]uint64, int(v>>6)+1-len(bm))...)
				d.dense[bi-1] = bm
				d.denseBytes += 8 * int64(cap(bm)-c)
			}
			bm[v>>6] |= 1 << (v & 63)
			continue
		}
		scratch = append(scratch, k)
	}
	d.sparse.reset()
	for _, k := range scratch {
		d.sparse.insert(k)
	}
	return scratch
}

// each calls f with the slot and value id of every member.
func (d *distinctSet) each(a *acc, ws *winState, f func(s int32, v uint32)) {
	for _, k := range d.sparse.keys {
		if k != emptyKey {
			f(int32(k>>32), uint32(k))
		}
	}
	for _, s := range ws.gslots {
		if bi := a.i[s]; bi > 0 {
			eachBit(d.dense[bi-1], func(v uint32) { f(s, v) })
		}
	}
}

func eachBit(bm []uint64, f func(uint32)) {
	for w, x := range bm {
		for x != 0 {
			f(uint32(w*64 + bits.TrailingZeros64(x)))
			x &= x - 1
		}
	}
}

func popcount(bm []uint64) int64 {
	n := 0
	for _, x := range bm {
		n += bits.OnesCount64(x)
	}
	return int64(n)
}
