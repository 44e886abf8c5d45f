package windows

import (
	"errors"
	"fmt"
)

// The state's size is an estimate from the capacities of what holds it: the
// tables and slices that grow with keys and values, at their Go sizes, and
// the maps at about what Go's maps cost per entry. It is computed in a time
// that grows with the shards and windows, not with the keys or values (a
// dense bitmap keeps its bytes in a counter), so the operator checks it
// after every batch. The states of custom aggregates (Custom, the sketches)
// are not counted.
const (
	mapEntryBytes    = 24 // a small key and value in a Go map, with its share of the table
	mapStringBytes   = 40 // a string key (its header, its own copy) and a uint32
	windowFixedBytes = 256
)

// bytes estimates the dict's memory.
func (d *dict) bytes() int64 {
	b := int64(8*cap(d.intVals) + mapEntryBytes*len(d.ints))
	t := &d.strs
	b += int64(cap(t.data) + 8*cap(t.offs) + 8*cap(t.slots))
	if t.small != nil {
		b += int64(mapStringBytes * len(t.small))
	}
	return b
}

// bytes estimates the key table's memory.
func (k *keyTable) bytes() int64 {
	var b int64
	for _, d := range k.cols {
		b += d.bytes()
	}
	return b + int64(4*cap(k.ids)+(mapStringBytes+4*len(k.cols))*len(k.tuples))
}

func (a *acc) bytes() int64 {
	b := 8 * int64(cap(a.n)+cap(a.i)+cap(a.u)+cap(a.f)+cap(a.t))
	if a.c != nil {
		b += 16 * int64(cap(a.c.states))
	}
	return b
}

func (s *u64set) bytes() int64 { return 8 * int64(cap(s.keys)) }

// bytes estimates the window state's memory.
func (ws *winState) bytes() int64 {
	b := int64(windowFixedBytes + mapEntryBytes*len(ws.slots) + 4*cap(ws.keys) + 4*cap(ws.gslots))
	for _, d := range ws.dsets {
		if d != nil {
			b += d.sparse.bytes() + d.denseBytes
		}
	}
	return b
}

// stateBytes estimates the memory of o's state: dicts, partial aggregates,
// windows, distinct sets, and the sets kept for reuse.
func (o *Operator) stateBytes() int64 {
	b := o.keys.bytes()
	for _, d := range o.vdicts {
		if d != nil {
			b += d.bytes()
		}
	}
	for _, sh := range o.byName {
		b += int64(windowFixedBytes + 4*cap(sh.free))
		for i := range sh.accs {
			b += sh.accs[i].bytes()
		}
		for _, ws := range sh.windows {
			b += ws.bytes()
		}
	}
	for _, s := range o.setPool {
		b += s.bytes()
	}
	if o.mset != nil {
		b += o.mset.bytes()
	}
	return b + int64(8*cap(o.mbits))
}

// distinctValues is how many distinct values the open windows hold, over
// shards, windows and CountDistinct aggregates, and in how many windows, for
// the error over the limit.
func (o *Operator) distinctValues() (values int64, windows int) {
	seen := map[int64]bool{}
	for _, sh := range o.byName {
		for _, ws := range sh.windows {
			seen[ws.start] = true
			for a := range ws.dsets {
				if ws.dsets[a] == nil {
					continue
				}
				for _, s := range ws.gslots {
					values += sh.accs[a].n[s]
				}
			}
		}
	}
	return values, len(seen)
}

// ErrStateLimit is wrapped by the error of a window operator whose state
// outgrows the job's limit (pipeline.WithStateLimit) with nowhere to spill.
var ErrStateLimit = errors.New("state over its limit")

// checkState compares the state's size with the job's limit after a batch:
// it spills what it can when the job has a spill store, and fails otherwise,
// or when the state stays over the limit after spilling.
func (o *Operator) checkState() error {
	if o.st.err != nil {
		return o.st.err
	}
	limit := o.st.cfg.Limit
	if limit <= 0 {
		return nil
	}
	size := o.stateBytes()
	if size <= limit {
		return nil
	}
	if o.st.cfg.Spill != nil && o.canSpill() {
		if err := o.spillAll(); err != nil {
			return err
		}
		if size = o.stateBytes(); size <= limit {
			return nil
		}
	}
	return o.limitError(size, limit)
}

// limitError says what the state holds, the limit, and what to do.
func (o *Operator) limitError(size, limit int64) error {
	values, windows := o.distinctValues()
	what := fmt.Sprintf("%d keys", o.keys.len())
	if values > 0 {
		what += fmt.Sprintf(", %d distinct values in %d open window%s", values, windows, plural(windows))
	}
	do := "raise the limit (--state-limit), or let the distinct sets spill to disk (--state-spill DIR)"
	if o.st.cfg.Spill != nil {
		do = "raise the limit (--state-limit): what is left in memory after spilling the distinct sets does not fit"
	}
	return fmt.Errorf("windows: %s: %w: about %s (%s) against a limit of %s; %s; the last checkpoint is intact",
		o.p.name, ErrStateLimit, formatBytes(size), what, formatBytes(limit), do)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// formatBytes writes n bytes in binary units: 512 B, 1.5 KiB, 3.2 GiB.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
