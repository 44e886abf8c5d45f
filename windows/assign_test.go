package windows

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTumblingAssign(t *testing.T) {
	tests := []struct {
		name   string
		size   time.Duration
		offset time.Duration
		t      int64
		want   int64
	}{
		{"zero", time.Minute, 0, 0, 0},
		{"inside", time.Minute, 0, 59_999, 0},
		{"end is next start", time.Minute, 0, 60_000, 60_000},
		{"positive", time.Minute, 0, 1_700_000_123_456, 1_700_000_100_000},
		{"negative", time.Minute, 0, -1, -60_000},
		{"negative boundary", time.Minute, 0, -60_000, -60_000},
		{"negative inside", time.Minute, 0, -60_001, -120_000},
		{"offset before", time.Minute, 15 * time.Second, 14_999, -45_000},
		{"offset at", time.Minute, 15 * time.Second, 15_000, 15_000},
		{"negative offset", time.Hour, -15 * time.Minute, 0, -15 * 60_000},
		{"offset larger than size", time.Minute, 75 * time.Second, 15_000, 15_000},
		{"offset negative time", time.Minute, 15 * time.Second, -46_000, -105_000},
		{"one ms", time.Millisecond, 0, -7, -7},
		{"min time saturates", time.Minute, 0, math.MinInt64, math.MinInt64},
		{"max time", time.Minute, 0, math.MaxInt64, math.MaxInt64 - math.MaxInt64%60_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Tumbling(tt.size).WithOffset(tt.offset)
			if err := a.Validate(); err != nil {
				t.Fatal(err)
			}
			got := make([]int64, 1)
			a.Assign([]int64{tt.t}, got)
			if got[0] != tt.want {
				t.Fatalf("start of %d = %d, want %d", tt.t, got[0], tt.want)
			}
			end := windowEnd(got[0], a.Size())
			if tt.t != math.MinInt64 && (got[0] > tt.t || tt.t >= end) && end != math.MaxInt64 {
				t.Fatalf("%d not in [%d, %d)", tt.t, got[0], end)
			}
		})
	}
}

func TestSlidingAssign(t *testing.T) {
	tests := []struct {
		name        string
		size, slide time.Duration
		t           int64
		want        []int64
	}{
		{"three windows", 3 * time.Second, time.Second, 2500, []int64{0, 1000, 2000}},
		{"at a boundary", 3 * time.Second, time.Second, 3000, []int64{1000, 2000, 3000}},
		{"negative", 3 * time.Second, time.Second, -1, []int64{-3000, -2000, -1000}},
		{"slide equals size", time.Minute, time.Minute, 61_000, []int64{60_000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Sliding(tt.size, tt.slide)
			if err := a.Validate(); err != nil {
				t.Fatal(err)
			}
			got := make([]int64, a.Fanout())
			a.Assign([]int64{tt.t}, got)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("windows of %d = %v, want %v", tt.t, got, tt.want)
			}
			for _, s := range got {
				if s > tt.t || tt.t >= s+a.Size() {
					t.Fatalf("%d not in [%d, %d)", tt.t, s, s+a.Size())
				}
			}
		})
	}
}

func TestAssignerValidate(t *testing.T) {
	tests := []struct {
		name string
		a    Assigner
		want string // "" for valid
	}{
		{"tumbling ok", Tumbling(time.Minute), ""},
		{"tumbling zero", Tumbling(0), "windows: tumbling size 0s must be a positive whole number of milliseconds"},
		{"tumbling negative", Tumbling(-time.Second), "positive"},
		{"tumbling sub-ms", Tumbling(time.Microsecond), "whole number of milliseconds"},
		{"offset sub-ms", Tumbling(time.Second).WithOffset(time.Nanosecond), "offset 1ns must be a whole number"},
		{"sliding ok", Sliding(time.Minute, 10*time.Second), ""},
		{"sliding not multiple", Sliding(time.Minute, 7*time.Second), "not a multiple"},
		{"sliding zero slide", Sliding(time.Minute, 0), "sliding slide 0s"},
		{"sliding fanout", Sliding(time.Hour, time.Millisecond), "more than 1024"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.a.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestAssignerString(t *testing.T) {
	tests := []struct {
		a    Assigner
		want string
	}{
		{Tumbling(time.Minute), "tumbling(1m)"},
		{Tumbling(90 * time.Minute), "tumbling(1h30m)"},
		{Tumbling(24 * time.Hour).WithOffset(-8 * time.Hour), "tumbling(1d, offset 16h)"},
		{Tumbling(1500 * time.Millisecond), "tumbling(1s500ms)"},
		{Sliding(10*time.Minute, time.Minute), "sliding(10m, 1m)"},
	}
	for _, tt := range tests {
		if got := tt.a.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
