package generator_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/generator"
)

func TestResumeRefusesAnotherGenerator(t *testing.T) {
	base := generator.Config{Shards: 4, Events: 1000, Seed: 1, BadEvery: 50}
	tests := []struct {
		name   string
		change func(*generator.Config)
		want   string // "" for compatible
	}{
		{"same", func(*generator.Config) {}, ""},
		{"more events", func(c *generator.Config) { c.Events = 5000 }, ""},
		{"unbounded", func(c *generator.Config) { c.Events = 0 }, ""},
		{"another rate and batch size", func(c *generator.Config) { c.Rate, c.BatchSize = 100, 7 }, ""},
		{"more shards", func(c *generator.Config) { c.Shards = 8 }, "--shards 8 (was 4)"},
		{"another seed", func(c *generator.Config) { c.Seed = 2 }, "--seed 2 (was 1)"},
		{"other malformed records", func(c *generator.Config) { c.BadEvery = 0 }, "--bad-every 0 (was 50)"},
		{"fewer events", func(c *generator.Config) { c.Events = 999 }, "--events 999 (was 1000)"},
		{"another start", func(c *generator.Config) { c.Start = generator.DefaultStart.Add(time.Hour) }, "start 2026-01-01T01:00:00Z"},
	}
	was, err := generator.New(base)
	if err != nil {
		t.Fatal(err)
	}
	prev := was.Identity()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.change(&cfg)
			src, err := generator.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = src.Resume(prev)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Resume = %v, want nil", err)
			case tc.want != "" && (!errors.Is(err, pipeline.ErrIncompatibleSource) || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Resume = %v, want ErrIncompatibleSource naming %q", err, tc.want)
			}
		})
	}
}

func TestResumeFromUnboundedRefusesABound(t *testing.T) {
	was, _ := generator.New(generator.Config{Shards: 2, Events: 0, Seed: 1})
	now, _ := generator.New(generator.Config{Shards: 2, Events: 10, Seed: 1})
	if err := now.Resume(was.Identity()); !errors.Is(err, pipeline.ErrIncompatibleSource) {
		t.Errorf("Resume = %v, want ErrIncompatibleSource", err)
	}
	if err := now.Resume([]byte(`{"v":9}`)); !errors.Is(err, pipeline.ErrIncompatibleSource) {
		t.Errorf("Resume of an unknown identity = %v, want ErrIncompatibleSource", err)
	}
	if err := now.Resume(nil); err != nil {
		t.Errorf("Resume(nil) = %v, want nil (a checkpoint without a source identity)", err)
	}
}
