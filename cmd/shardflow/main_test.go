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
		{[]string{"run", "clickstream", "--source", "ftp://x"}, `unknown source "ftp://x": ftp:// is not supported; want generator, file://GLOB[?follow=1] or kinesis://STREAM`},
		{[]string{"run", "clickstream", "--start", "bogus"}, `--start "bogus": want latest, trim_horizon or at_timestamp:RFC3339`},
		{[]string{"run", "clickstream", "--source", "kinesis://s", "--start", "at_timestamp:yesterday"}, `--start "at_timestamp:yesterday": want`},
		{[]string{"run", "clickstream", "--start", "latest"}, "--start applies only to kinesis:// sources, not to --source generator"},
		{[]string{"run", "clickstream", "--source", "file://" + dir + "/*.jsonl", "--start", "trim_horizon"}, "--start applies only to kinesis:// sources"},
		{[]string{"run", "clickstream", "--source", "kinesis://s", "--events", "5"}, "--events: generator flags apply only to --source generator, not to kinesis://s"},
		{[]string{"run", "clickstream", "--source", "file://" + dir + "/*.jsonl", "--seed", "3", "--rate", "10"}, "--rate, --seed: generator flags apply only to --source generator"},
		{[]string{"run", "clickstream", "--start", "bogus", "--checkpoint-interval", "0s"}, "want > 0; --start"},
		{[]string{"replay", "clickstream", "--source", "kinesis://s", "--events", "5"}, "unknown flag: --events"},
		{[]string{"replay", "clickstream"}, "want --source kinesis://STREAM"},
		{[]string{"replay", "clickstream", "--source", "kinesis://s", "--checkpoint-interval", "1s"}, "--checkpoint-interval: a replay of a stream cuts its checkpoints by the records' arrival times, not the clock: use --checkpoint-step (default 15m0s)"},
		{[]string{"replay", "clickstream", "--source", "kinesis://s", "--then-run", "--checkpoint-step", "1m"}, "--then-run goes on live and checkpoints every --checkpoint-interval: drop --checkpoint-step"},
		{[]string{"replay", "clickstream", "--source", "kinesis://s", "--checkpoint-step", "0s"}, "--checkpoint-step 0s: want > 0"},
		{[]string{"run", "nosuchjob"}, `no job "nosuchjob" (have: clickstream, features, sessions)`},
		{[]string{"run", "clickstream", "--features", "sqlite://" + dir + "/f.db"}, "--features: job clickstream keeps no online features; the jobs that do: features"},
		{[]string{"run", "features", "--features", "memcached://h"}, `--features: featurestore: "memcached://h": unknown store "memcached"`},
		{[]string{"run", "features", "--features", "redis://h:1/0?layout=feast"}, "layout=feast needs project=NAME"},
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

// A URL where a flag takes a local directory is refused before any work,
// rather than becoming a directory named "s3:".
func TestURLsAreNotPaths(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--out", "s3://Bad_Bucket/prefix"}, `--out s3://Bad_Bucket/prefix: bucket "Bad_Bucket" is not a valid bucket name (3-63 of a-z, 0-9, '.', '-'); want s3://BUCKET or s3://BUCKET/PREFIX`},
		{[]string{"--out", "s3://bucket/a//b"}, "--out s3://bucket/a//b: empty path segment; want s3://BUCKET or s3://BUCKET/PREFIX"},
		{[]string{"--checkpoints", "dynamodb://table"}, "--checkpoints dynamodb://table: dynamodb:// is not supported yet; --checkpoints takes a local directory"},
		{[]string{"--out", "file:///tmp/x"}, "--out file:///tmp/x: file:// is not supported yet"},
		{[]string{"--source", "s3://bucket/events"}, `unknown source "s3://bucket/events": s3:// is not supported; want generator, file://GLOB[?follow=1] or kinesis://STREAM`},
	} {
		for _, cmd := range [][]string{{"run", "clickstream", "--events", "1000", "--status", "off"}, {"replay", "clickstream", "--source", "kinesis://s", "--status", "off"}} {
			if cmd[0] == "replay" && tc.args[0] == "--source" {
				continue // replay wants kinesis://, checked by TestBadInputFailsBeforeWork
			}
			args := append(cmd, tc.args...)
			code, out, errs := runCLI(t, args...)
			if code == 0 || !strings.Contains(errs, tc.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
				t.Errorf("%v: exit %d, stderr %q, want one line containing %q (stdout %q)", args, code, errs, tc.want, out)
			}
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused URL left %d entries in the working directory, e.g. %s", len(entries), entries[0].Name())
	}
}

// replay reads only Kinesis: its help shows neither the generator's flags nor
// a generator default.
func TestReplayHelpHasOnlyItsFlags(t *testing.T) {
	code, out, errs := runCLI(t, "replay", "--help")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, flag := range append(generatorFlags, "start") {
		if strings.Contains(out, "--"+flag+" ") {
			t.Errorf("replay --help lists --%s:\n%s", flag, out)
		}
	}
	if strings.Contains(out, "generator") {
		t.Errorf("replay --help mentions the generator:\n%s", out)
	}
	for _, flag := range []string{"--source", "--from", "--to", "--out", "--checkpoints"} {
		if !strings.Contains(out, flag+" ") {
			t.Errorf("replay --help lacks %s", flag)
		}
	}
}

func TestCheckStart(t *testing.T) {
	for _, ok := range []string{"latest", "trim_horizon", "at_timestamp:2026-11-30T10:00:00Z", "at_timestamp:2026-11-30T10:00:00.5+01:00"} {
		if err := checkStart(ok); err != nil {
			t.Errorf("checkStart(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "LATEST", "at_timestamp:", "at_timestamp:2026-11-30", "now"} {
		if err := checkStart(bad); err == nil {
			t.Errorf("checkStart(%q) accepted it", bad)
		}
	}
}

func TestJobsLists(t *testing.T) {
	code, out, _ := runCLI(t, "jobs")
	if code != 0 || !strings.HasPrefix(out, "clickstream  ") {
		t.Fatalf("exit %d: %q", code, out)
	}
}
