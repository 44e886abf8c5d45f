package pipeline

import "testing"

func TestWatermarks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		run   func(w *watermarks)
		want  int64
		moved bool
	}{
		{"no shard", func(w *watermarks) {}, MinTime, false},
		{"a shard without rows holds it", func(w *watermarks) { w.add("a", 5000); w.add("b", MinTime) }, MinTime, false},
		{"the minimum over shards", func(w *watermarks) { w.add("a", 5000); w.add("b", 3000) }, 2000, true},
		{"an idle shard does not count", func(w *watermarks) { w.add("a", 5000); w.add("b", 3000); w.setIdle("b", true) }, 4000, true},
		{"rows make a shard active again", func(w *watermarks) {
			w.add("a", 5000)
			w.add("b", 3000)
			w.setIdle("b", true)
			w.observe("b", 3500)
		}, 2500, true},
		{"a removed shard does not count", func(w *watermarks) { w.add("a", 5000); w.add("b", 3000); w.remove("b") }, 4000, true},
		{"near the int64 minimum it saturates", func(w *watermarks) { w.add("a", MinTime+10) }, MinTime, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWatermarks(1000)
			tc.run(w)
			got, moved := w.advance()
			if got != tc.want || moved != tc.moved {
				t.Errorf("advance() = %d, %v; want %d, %v", got, moved, tc.want, tc.moved)
			}
		})
	}
}

func TestWatermarkNeverGoesBack(t *testing.T) {
	w := newWatermarks(0)
	w.add("a", 5000)
	if wm, _ := w.advance(); wm != 5000 {
		t.Fatalf("watermark %d", wm)
	}
	w.add("late-child", 1000) // a new shard behind the watermark
	if wm, moved := w.advance(); wm != 5000 || moved {
		t.Errorf("advance() = %d, %v; want 5000 unchanged", wm, moved)
	}
}
