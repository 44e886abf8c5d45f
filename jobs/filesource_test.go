package jobs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// file://GLOB?follow=1 makes an unbounded file source; a '?' of the glob
// that starts no parameter stays in the glob.
func TestOpenFileSourceFollow(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.jsonl"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		spec    string
		bounded bool
		err     string
	}{
		{"file://" + dir + "/*.jsonl", true, ""},
		{"file://" + dir + "/*.jsonl?follow=1", false, ""},
		{"file://" + dir + "/*.jsonl?follow=true", false, ""},
		{"file://" + dir + "/*.jsonl?follow=0", true, ""},
		{"file://" + dir + "/?.jsonl", true, ""},
		{"file://" + dir + "/?.jsonl?follow=1", false, ""},
		{"file://" + dir + "/*.jsonl?follow=yes", false, `follow="yes", want 1, true, 0 or false`},
		{"file://" + dir + "/*.jsonl?poll=1s", false, `unknown parameter "poll" (want follow)`},
		{"file://" + dir + "/*.csv?follow=1", false, "matches no file"},
	} {
		src, err := OpenSource(context.Background(), tc.spec, SourceOptions{})
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: got %v, want an error containing %q", tc.spec, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.spec, err)
		case tc.err == "" && src.Bounded() != tc.bounded:
			t.Errorf("%s: Bounded() = %v, want %v", tc.spec, src.Bounded(), tc.bounded)
		}
	}
}
