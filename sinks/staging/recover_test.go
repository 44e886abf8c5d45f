package staging

import "testing"

func TestCheckpointList(t *testing.T) {
	for _, tc := range []struct {
		ids  []uint64
		want string
	}{
		{[]uint64{3}, "checkpoint 3"},
		{[]uint64{1, 2, 3, 4}, "checkpoints 1-4"},
		{[]uint64{1, 2, 5, 7, 8}, "checkpoints 1-2, 5, 7-8"},
	} {
		if got := checkpointList(tc.ids); got != tc.want {
			t.Errorf("checkpointList(%v) = %q, want %q", tc.ids, got, tc.want)
		}
	}
}
