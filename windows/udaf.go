package windows

import (
	"encoding"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/shardflow/shardflow/internal/wire"
)

// AggFunc is a user-defined aggregation, run by Custom. Like the built-in
// aggregates it is mergeable: the operator keeps one AggState per source
// shard, window and key, folds each batch into it a column at a time, merges
// the shards' states when the window fires, and writes the states into its
// snapshots. An AggFunc is shared by every instance of its stage and must be
// safe for concurrent use; its states are used by one goroutine at a time.
//
// An AggFunc that implements fmt.Stringer names itself in the stage's name
// (and so in its snapshots): "product" renders as product(total: price).
// Two stages restore each other's snapshots only if their names are equal,
// so a String that includes the function's parameters keeps a snapshot from
// restoring into a stage that would read its states differently.
type AggFunc interface {
	// Type returns the output type for an input column of type in, or an
	// error if the aggregation does not read such a column. It is called
	// when the stage is bound to its input schema.
	Type(in arrow.DataType) (arrow.DataType, error)
	// New returns an empty state (never nil).
	New() AggState
}

// AggState is the partial aggregate of one group.
type AggState interface {
	// Add folds the values of arr at rows into the state. The rows are in
	// batch order and their values are valid (the operator skips nulls);
	// arr is the bound column, of the type Type was given.
	Add(arr arrow.Array, rows []int32)
	// Merge folds other, a state of the same AggFunc, into the state; other
	// must not be changed. States merge in the order of their shards' names.
	Merge(other AggState)
	// Result appends the aggregate's value to b, a builder of the type that
	// Type returned. A group whose rows were all null gets New's Result.
	Result(b array.Builder) error
	// MarshalBinary encodes the state for a checkpoint; UnmarshalBinary,
	// called on a state from New, restores it exactly.
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

// Custom is the aggregate f computes over col, of the type f.Type gives; it
// skips null values. See AggFunc.
func Custom(name, col string, f AggFunc) Agg {
	return Agg{kind: kindCustom, name: name, col: col, fn: f}
}

// kindName is how stage names and errors call the aggregate.
func (a Agg) kindName() string {
	if a.kind == kindCustom {
		if s, ok := a.fn.(fmt.Stringer); ok {
			return s.String()
		}
	}
	return a.kind.String()
}

// planCustom binds a custom aggregate to its column's type.
func planCustom(ap *aggPlan, in arrow.DataType) error {
	if ap.fn == nil {
		return fmt.Errorf("windows: %s: nil AggFunc", ap.label())
	}
	out, err := ap.fn.Type(in)
	if err != nil {
		return fmt.Errorf("windows: %s: column %q: %w", ap.label(), ap.Agg.col, err)
	}
	if out == nil {
		return fmt.Errorf("windows: %s: nil output type", ap.label())
	}
	ap.outType, ap.store, ap.update = out, storeC, customUpdater(ap.fn)
	return nil
}

// customCol is a custom aggregate's column of an acc: the state of each slot
// (nil until the group sees a valid value), and the scratch that groups a
// batch's rows by slot.
type customCol struct {
	states []AggState
	mark   []int32 // per slot: 1 + its group in the batch, or 0
	gslot  []int32 // per group of the batch: its slot
	off    []int32 // per group: where its rows start in order, then end
	order  []int32 // the batch's rows, grouped by slot
}

// grow appends a slot without state; c may be nil.
func (c *customCol) grow() *customCol {
	if c == nil {
		c = &customCol{}
	}
	c.states = append(c.states, nil)
	return c
}

func (c *customCol) truncate() {
	if c != nil {
		clear(c.states)
		c.states = c.states[:0]
	}
}

// customUpdater returns the updateFn of f: it groups the kept rows by slot
// (in one pass, stable) and calls each group's Add once.
func customUpdater(f AggFunc) updateFn {
	return func(a *acc, arr arrow.Array, keep []bool, rows, slots []int32) {
		c := a.c
		if len(c.mark) < len(c.states) {
			c.mark = make([]int32, len(c.states)+len(c.states)/4)
		}
		c.gslot, c.off = c.gslot[:0], c.off[:0]
		n := 0
		for j, r := range rows {
			if keep != nil && !keep[r] {
				continue
			}
			s := slots[j]
			g := c.mark[s]
			if g == 0 {
				c.gslot = append(c.gslot, s)
				c.off = append(c.off, 0)
				g = int32(len(c.gslot))
				c.mark[s] = g
			}
			c.off[g-1]++
			n++
		}
		if n == 0 {
			return
		}
		// Counts to starts; placing a row advances its group's start to the
		// group's end, which is the next group's start.
		var at int32
		for g, k := range c.off {
			c.off[g] = at
			at += k
		}
		c.order = grow(c.order, n)
		for j, r := range rows {
			if keep != nil && !keep[r] {
				continue
			}
			g := c.mark[slots[j]] - 1
			c.order[c.off[g]] = r
			c.off[g]++
		}
		var start int32
		for g, s := range c.gslot {
			end := c.off[g]
			st := c.states[s]
			if st == nil {
				st = f.New()
				c.states[s] = st
			}
			st.Add(arr, c.order[start:end])
			start = end
			c.mark[s] = 0
		}
	}
}

// mergeCustom folds src's state of slot s into dst's of slot d.
func mergeCustom(f AggFunc, dst *customCol, d int32, src *customCol, s int32) {
	from := src.states[s]
	if from == nil {
		return
	}
	if dst.states[d] == nil {
		dst.states[d] = f.New()
	}
	dst.states[d].Merge(from)
}

// appendCustom appends the results of the merged states, in perm order.
func appendCustom(fb array.Builder, ap *aggPlan, m *customCol, perm []int32) error {
	var empty AggState
	for _, g := range perm {
		st := m.states[g]
		if st == nil {
			if empty == nil {
				empty = ap.fn.New()
			}
			st = empty
		}
		if err := st.Result(fb); err != nil {
			return fmt.Errorf("windows: %s: %w", ap.label(), err)
		}
	}
	return nil
}

// appendCustomState encodes a slot's state: 0 for none, or 1 and the
// state's MarshalBinary as a string.
func appendCustomState(b []byte, st AggState) ([]byte, error) {
	if st == nil {
		return append(b, 0), nil
	}
	data, err := st.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return appendString(append(b, 1), string(data)), nil
}

// readCustomState decodes what appendCustomState wrote.
func readCustomState(r *wire.Reader, f AggFunc) AggState {
	switch r.Byte() {
	case 0:
		return nil
	case 1:
	default:
		r.Fail("custom state tag")
		return nil
	}
	data := r.String()
	if r.Err() != nil {
		return nil
	}
	st := f.New()
	if err := st.UnmarshalBinary([]byte(data)); err != nil {
		r.Fail("custom state: " + err.Error())
		return nil
	}
	return st
}
