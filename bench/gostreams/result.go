package main

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// windowMillis is the size of the tumbling windows: one minute of event time.
const windowMillis = 60_000

// rowKey is one output row's window (its start, ms since the epoch) and page.
type rowKey struct {
	start int64
	page  string
}

// rowVal is one output row's aggregates. users is -1 when distinct users
// are not computed.
type rowVal struct {
	events, users int64
}

// result is an engine's output: one row per (window, page).
type result map[rowKey]rowVal

// windowStart is the start of the tumbling window that holds ts (ms).
func windowStart(ts int64) int64 {
	q := ts / windowMillis
	if ts%windowMillis != 0 && ts < 0 {
		q--
	}
	return q * windowMillis
}

// diff describes how got differs from want in at most a few lines, "" when
// they are equal.
func diff(want, got result) string {
	var lines []string
	keys := make([]rowKey, 0, len(want)+len(got))
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b rowKey) int {
		return cmp.Or(cmp.Compare(a.start, b.start), strings.Compare(a.page, b.page))
	})
	n := 0
	for _, k := range keys {
		w, inW := want[k]
		g, inG := got[k]
		if inW && inG && w == g {
			continue
		}
		if n++; n > 5 {
			continue
		}
		lines = append(lines, fmt.Sprintf("  window %d page %q: shardflow %s, go-streams %s", k.start, k.page, show(w, inW), show(g, inG)))
	}
	if n == 0 {
		return ""
	}
	if n > 5 {
		lines = append(lines, fmt.Sprintf("  ... %d rows differ", n))
	}
	return strings.Join(lines, "\n")
}

func show(v rowVal, ok bool) string {
	switch {
	case !ok:
		return "no row"
	case v.users < 0:
		return fmt.Sprintf("events=%d", v.events)
	default:
		return fmt.Sprintf("events=%d users=%d", v.events, v.users)
	}
}
