package main

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardflow/shardflow/internal/capacity"
)

func TestPlanJSON(t *testing.T) {
	// The write-bound case of internal/capacity: 512 records/s of 8 KB = 4 MB/s,
	// one polling consumer: limits 4, 1, 2; min 4; recommended ceil(4/0.8) = 5;
	// 5 x 720 x 0.015 = 54 shard-hours + 18.579456 PUT units = 72.579456.
	code, out, errs := runCLI(t, "plan", "--records-s", "512", "--record-kb", "8", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	for _, key := range []string{"min_shards", "recommended_shards", "limits", "prices", "monthly_cost_usd", "on_demand_monthly_cost_usd", "warnings", "input"} {
		if _, ok := got[key]; !ok {
			t.Errorf("no key %q in %s", key, out)
		}
	}
	sub := func(key string) map[string]any {
		m, _ := got[key].(map[string]any)
		return m
	}
	for key, keys := range map[string][]string{
		"limits":           {"write_mb", "write_records", "read"},
		"prices":           {"shard_hour", "put_payload_units_per_million", "extended_retention_shard_hour", "long_term_retention_gb_month", "efo_consumer_shard_hour", "efo_data_retrieval_gb", "on_demand_stream_hour", "on_demand_data_in_gb", "on_demand_data_out_gb", "as_of"},
		"monthly_cost_usd": {"shard_hours", "put_payload_units", "extended_retention", "long_term_retention", "efo_consumer_shard_hours", "efo_data_retrieval", "total"},
	} {
		for _, k := range keys {
			if _, ok := sub(key)[k]; !ok {
				t.Errorf("no %s.%s in %s", key, k, out)
			}
		}
	}
	if got["min_shards"] != 4.0 || got["recommended_shards"] != 5.0 || sub("limits")["write_mb"] != 4.0 || sub("limits")["read"] != 2.0 {
		t.Errorf("shards: %v %v %v", got["min_shards"], got["recommended_shards"], got["limits"])
	}
	if total, _ := sub("monthly_cost_usd")["total"].(float64); math.Abs(total-72.579456) > 1e-9 {
		t.Errorf("total %v, want 72.579456", total)
	}
}

func TestPlanText(t *testing.T) {
	// Read-bound: 2 MB/s, 1,000 records/s, 4 polling consumers (see internal/capacity).
	code, out, errs := runCLI(t, "plan", "--write-mb-s", "2", "--records-s", "1000", "--consumers", "4")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"writes 2 MB/s, 1000 records/s of 2.048 KB; 4 polling consumer(s); retention 24 h",
		"read, 2 MB/s per shard shared by polling consumers           4",
		"recommended, 20% headroom", "$90.29", "on-demand mode, for comparison",
		"prices: us-east-1 list prices of 2024-06-01",
		"warning: 4 polling consumers share 2 MB/s per shard: reads need 4 shards where writes need 2; with enhanced fan-out (--efo) 3 shards: +$371.25/month",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestPlanTFVars(t *testing.T) {
	code, out, errs := runCLI(t, "plan", "--records-s", "512", "--record-kb", "8", "--efo", "--consumers", "2", "--retention-hours", "48", "--format", "tfvars")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"# From: shardflow plan --consumers 2 --efo --record-kb 8 --records-s 512 --retention-hours 48 --format tfvars\n",
		"stream_mode      = \"PROVISIONED\"\nshard_count      = 5\nretention_hours  = 48\nenhanced_fan_out = true\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("tfvars lack %q:\n%s", want, out)
		}
	}
}

func TestPlanPricesFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "prices.json")
	os.WriteFile(good, []byte(`{"as_of": "2030-01-01", "shard_hour": 0.03}`), 0o644)
	// 5 shards x 720 h x 0.03 = 108.
	code, out, errs := runCLI(t, "plan", "--records-s", "512", "--record-kb", "8", "--prices", good, "--format", "json")
	if code != 0 || !strings.Contains(out, `"shard_hours": 108,`) || !strings.Contains(out, `"as_of": "2030-01-01"`) {
		t.Errorf("exit %d: %s%s", code, out, errs)
	}
}

func TestPlanBadFlags(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "unknown.json")
	os.WriteFile(unknown, []byte(`{"shard_hour": 0.015, "shard_minute": 1}`), 0o644)
	negative := filepath.Join(dir, "negative.json")
	os.WriteFile(negative, []byte(`{"shard_hour": -0.015}`), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"plan"}, "give two of --write-mb-s, --records-s and --record-kb"},
		{[]string{"plan", "--write-mb-s", "1"}, "give two of"},
		{[]string{"plan", "--write-mb-s", "x"}, `invalid argument "x" for "--write-mb-s"`},
		{[]string{"plan", "--write-mb-s", "1", "--records-s", "10", "--format", "yaml"}, `--format "yaml": want text, json or tfvars`},
		{[]string{"plan", "--write-mb-s", "1", "--records-s", "10", "--headroom", "1", "--retention-hours", "1"}, "retention 1 hours: want a whole number from 24 to 8760; headroom 1: want 0 <= headroom < 1"},
		{[]string{"plan", "--write-mb-s", "2", "--records-s", "1000", "--record-kb", "1"}, "disagrees"},
		{[]string{"plan", "--write-mb-s", "1", "--records-s", "10", "--prices", unknown}, `unknown field "shard_minute"`},
		{[]string{"plan", "--write-mb-s", "1", "--records-s", "10", "--prices", negative}, "shard_hour is -0.015: want >= 0"},
		{[]string{"plan", "--write-mb-s", "1", "--records-s", "10", "--prices", filepath.Join(dir, "none.json")}, "no such file"},
		{[]string{"plan", "--from-metrics", "http://127.0.0.1:1/metrics", "--write-mb-s", "1"}, "--from-metrics measures the writes"},
		{[]string{"plan", "--from-metrics", "http://127.0.0.1:1/metrics", "--sample", "0s"}, "--sample 0s: want > 0"},
		{[]string{"plan", "extra"}, `unknown command "extra"`},
	} {
		code, out, errs := runCLI(t, tc.args...)
		if code == 0 || !strings.Contains(errs, tc.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q (stdout %q), want one line with %q", tc.args, code, errs, out, tc.want)
		}
	}
}

func TestPlanFromMetrics(t *testing.T) {
	// Two scrapes 10 s apart: 41,943,040 bytes and 5,000 records more, over two
	// shards: 4 MiB/s and 500 records/s (8.192 KiB each), as the write-bound case:
	// limits 4, 1, 2; recommended 5.
	bodies := []string{
		"# TYPE shardflow_bytes_in_total counter\nshardflow_bytes_in_total{job=\"j\",shard=\"a\"} 100\nshardflow_bytes_in_total{job=\"j\",shard=\"b\"} 0\n" +
			"# TYPE shardflow_records_in_total counter\nshardflow_records_in_total{job=\"j\",shard=\"a\"} 10\nshardflow_records_in_total{job=\"j\",shard=\"b\"} 0\n",
		"# TYPE shardflow_bytes_in_total counter\nshardflow_bytes_in_total{job=\"j\",shard=\"a\"} 20971620\nshardflow_bytes_in_total{job=\"j\",shard=\"b\"} 20971520\n" +
			"# TYPE shardflow_records_in_total counter\nshardflow_records_in_total{job=\"j\",shard=\"a\"} 2510\nshardflow_records_in_total{job=\"j\",shard=\"b\"} 2500\n",
	}
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(bodies[min(int(n.Add(1))-1, 1)]))
	}))
	defer srv.Close()
	clock := time.Unix(1_700_000_000, 0)
	old := planSampler
	defer func() { planSampler = old }()
	var interval time.Duration
	planSampler = func(d time.Duration) capacity.Sampler {
		interval = d
		return capacity.Sampler{Client: srv.Client(), Interval: d,
			Now:   func() time.Time { return clock },
			Sleep: func(_ context.Context, d time.Duration) error { clock = clock.Add(d); return nil },
		}
	}
	code, out, errs := runCLI(t, "plan", "--from-metrics", srv.URL+"/metrics", "--sample", "10s", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if interval != 10*time.Second || !strings.Contains(errs, "plan: measured 4 MB/s and 500 records/s over 2 shards in 10s") {
		t.Errorf("interval %v, stderr %q", interval, errs)
	}
	var pl capacity.Plan
	if err := json.Unmarshal([]byte(out), &pl); err != nil {
		t.Fatal(err)
	}
	if pl.Input.WriteMiBs != 4 || pl.Input.RecordsS != 500 || pl.Input.RecordKiB != 8.192 || pl.MinShards != 4 || pl.RecommendedShards != 5 {
		t.Errorf("plan from metrics: %+v", pl)
	}
}

// TestPlanTFVarsExample reruns the `# From:` command of
// deploy/terraform/examples/terraform.tfvars and checks that the file holds
// its output verbatim: the example's shard count is the plan's.
func TestPlanTFVarsExample(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "terraform", "examples", "terraform.tfvars"))
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, line := range strings.Split(string(data), "\n") {
		if cmd, ok := strings.CutPrefix(line, "# From: shardflow "); ok {
			args = strings.Fields(cmd)
		}
	}
	if len(args) == 0 || !slicesContainsSeq(args, "--format", "tfvars") {
		t.Fatalf("terraform.tfvars has no '# From: shardflow plan ... --format tfvars' line")
	}
	code, out, errs := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errs)
	}
	if !strings.Contains(string(data), out) {
		t.Errorf("terraform.tfvars does not hold the output of %v:\n%s", args, out)
	}
}

func slicesContainsSeq(s []string, a, b string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == a && s[i+1] == b {
			return true
		}
	}
	return false
}
