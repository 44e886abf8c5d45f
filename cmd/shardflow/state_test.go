package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// --state-limit without --state-spill fails the run with one line that says
// what to do; the same run again with --state-spill continues from the
// failed run's checkpoints and writes what a run without a limit writes,
// leaving nothing in the spill directory.
func TestStateLimitThenSpill(t *testing.T) {
	dir, ref := t.TempDir(), t.TempDir()
	args := func(d string, extra ...string) []string {
		return append([]string{"run", "clickstream", "--events", "40000", "--status", "off", "--parallelism", "2",
			"--out", filepath.Join(d, "out"), "--checkpoints", filepath.Join(d, "ckpt"), "--checkpoint-interval", "50ms"}, extra...)
	}
	if code, out, errs := runCLI(t, args(ref)...); code != 0 {
		t.Fatalf("reference run: exit %d: %s%s", code, out, errs)
	}
	want := windowRows(t, ref, 0)

	code, out, errs := runCLI(t, args(dir, "--state-limit", "96KiB")...)
	if code == 0 || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Fatalf("limited run: exit %d, want a failure on one line: %s%s", code, out, errs)
	}
	for _, part := range []string{"state over its limit", "against a limit of 96.0 KiB", "--state-limit", "--state-spill DIR", "the last checkpoint is intact"} {
		if !strings.Contains(errs, part) {
			t.Errorf("error %q does not say %q", errs, part)
		}
	}

	spill := filepath.Join(dir, "spill")
	if code, out, errs := runCLI(t, args(dir, "--state-limit", "96KiB", "--state-spill", spill)...); code != 0 {
		t.Fatalf("spilling run: exit %d: %s%s", code, out, errs)
	}
	if got := windowRows(t, dir, 0); !slices.Equal(got, want) {
		t.Errorf("spilling run wrote %d rows, want %d\n got %q\nwant %q", len(got), len(want), head(got), head(want))
	}
	if entries, err := os.ReadDir(spill); err != nil || len(entries) != 0 {
		t.Errorf("spill dir after the run: %d entries, %v; want it empty", len(entries), err)
	}
}

func TestStateFlagsChecked(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--state-limit", "lots"}, `--state-limit "lots": want a size such as 1GiB or 512MB`},
		{[]string{"--state-spill", dir}, "--state-spill " + dir + ": needs --state-limit"},
		{[]string{"--state-limit", "1GiB", "--state-spill", "s3://b/p"}, "--state-spill s3://b/p: s3:// is not supported yet"},
	} {
		a := append([]string{"run", "clickstream", "--out", filepath.Join(dir, "out"), "--checkpoints", filepath.Join(dir, "ckpt")}, tc.args...)
		code, out, errs := runCLI(t, a...)
		if code == 0 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q (stdout %q)", tc.args, code, errs, tc.want, out)
		}
	}
}
