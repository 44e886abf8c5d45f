package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// The features job's online rows are what 'features get' prints, one JSON
// object per entity in the order asked, the view's features in order, null
// for an entity the store does not hold.
func TestFeaturesRunThenGet(t *testing.T) {
	dir := t.TempDir()
	store := "sqlite://" + filepath.Join(dir, "features.db")
	code, out, errs := runCLI(t, "run", "features", "--events", "40000", "--out", filepath.Join(dir, "out"), "--checkpoints", filepath.Join(dir, "ckpt"),
		"--features", store, "--status", "off")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	if !strings.Contains(out, "online rows to "+store+" (user_features)") {
		t.Errorf("summary does not name the store:\n%s", out)
	}
	code, out, errs = runCLI(t, "features", "get", "--features", store, "u0001", "nobody", "u0002")
	if code != 0 {
		t.Fatalf("get: exit %d: %s%s", code, out, errs)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("get printed %d lines, want 3:\n%s", len(lines), out)
	}
	const keys = `"user_id","events_1h","purchases_1h","revenue_1h","events_24h","last_page","last_event_ts"`
	if want := `{"user_id":"nobody","events_1h":null,"purchases_1h":null,"revenue_1h":null,"events_24h":null,"last_page":null,"last_event_ts":null}`; lines[1] != want {
		t.Errorf("an unknown entity: %s, want %s", lines[1], want)
	}
	for i, user := range []string{"u0001", "u0002"} {
		line := lines[i*2]
		var got struct {
			User     string  `json:"user_id"`
			Events1h int64   `json:"events_1h"`
			Events1d int64   `json:"events_24h"`
			Revenue  float64 `json:"revenue_1h"`
			Page     string  `json:"last_page"`
			Last     string  `json:"last_event_ts"`
		}
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if got.User != user || got.Events1h <= 0 || got.Events1d < got.Events1h || got.Page == "" || !strings.HasPrefix(got.Last, "2026-01-01T") {
			t.Errorf("%s: %+v", user, got)
		}
		if order := jsonKeys(t, line); order != keys {
			t.Errorf("%s: keys %s, want %s", user, order, keys)
		}
	}
}

func jsonKeys(t *testing.T, line string) string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	var keys []string
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, `"`+k.(string)+`"`)
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return strings.Join(keys, ",")
}

func TestFeaturesGetBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"features", "get"}, "requires at least 1 arg(s)"},
		{[]string{"features", "get", "--job", "clickstream", "u1"}, "--job clickstream keeps no online features; the jobs that do: features"},
		{[]string{"features", "get", "--job", "nope", "u1"}, `no job "nope"`},
		{[]string{"features", "get", "--features", "s3://b/k", "u1"}, `unknown store "s3"`},
		{[]string{"features", "get", "--features", "sqlite://" + filepath.Join(t.TempDir(), "typo.db"), "u1"}, "no SQLite file at"},
	} {
		code, out, errs := runCLI(t, tc.args...)
		if code == 0 || !strings.Contains(errs, tc.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q, want one line containing %q (stdout %q)", tc.args, code, errs, tc.want, out)
		}
	}
}
