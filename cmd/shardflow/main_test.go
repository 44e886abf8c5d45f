package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestRunGeneratorThenNothingToDo(t *testing.T) {
	dir := t.TempDir()
	args := []string{"run", "clickstream", "--events", "40000", "--out", filepath.Join(dir, "out"), "--checkpoints", filepath.Join(dir, "ckpt"), "--status", "off"}
	code, out, errs := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	for _, want := range []string{"clickstream: done in", "records in     40,000", "dead letters   8 in", "windows        2"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "out", "page_stats", "dt=*", "hour=*", "*.parquet"))
	if len(files) == 0 {
		t.Errorf("no Parquet file under %s", dir)
	}

	code, out, errs = runCLI(t, args...)
	if code != 0 || !strings.Contains(out, "nothing new to do") {
		t.Fatalf("second run: exit %d: %s%s", code, out, errs)
	}
}

func TestBadInputFailsBeforeWork(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "clickstream", "--checkpoint-interval", "0s"}, "--checkpoint-interval 0s: want > 0"},
		{[]string{"run", "clickstream", "--source", "file://" + dir + "/*.jsonl"}, "matches no file"},
		{[]string{"run", "clickstream", "--source", "ftp://x"}, `unknown source "ftp://x"`},
		{[]string{"run", "nosuchjob"}, `no job "nosuchjob" (have: clickstream)`},
		{[]string{"run", "clickstream", "--events", "x"}, `invalid argument "x" for "--events"`},
		{[]string{"run"}, "accepts 1 arg(s)"},
	} {
		code, out, errs := runCLI(t, append(tc.args, "--out", filepath.Join(dir, "out"), "--checkpoints", filepath.Join(dir, "ckpt"))...)
		if code == 0 || !strings.Contains(errs, tc.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q, want one line containing %q (stdout %q)", tc.args, code, errs, tc.want, out)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a failed start left %d entries in the output dir", len(entries))
	}
}

func TestJobsLists(t *testing.T) {
	code, out, _ := runCLI(t, "jobs")
	if code != 0 || !strings.HasPrefix(out, "clickstream  ") {
		t.Fatalf("exit %d: %q", code, out)
	}
}
