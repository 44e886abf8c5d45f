package windows

import "maps"

// countsOnly drops the state's size from counters, which depends on how the
// state's tables grew, to compare counts of runs that took other paths.
func countsOnly(c map[string]int64) map[string]int64 {
	c = maps.Clone(c)
	delete(c, "state_bytes")
	delete(c, "state_spills")
	return c
}
