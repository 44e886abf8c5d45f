package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/shardflow/shardflow/internal/testenv"
	sink "github.com/shardflow/shardflow/sinks/kinesis"
	"github.com/shardflow/shardflow/sources/generator"
)

// TestKinesisReplayKilledAndRestartedEqualsWhatWasPut writes generator
// clickstream into a 4-shard stream on kinesalite, splitting one shard and
// merging two while it writes and sending a third of the events as KPL
// aggregates. Then `shardflow replay clickstream` reads the stream, SIGKILLed
// at random moments and restarted until it finishes. page_stats, read back by
// DuckDB, must hold exactly the totals computed from the events put, and the
// dead letters exactly the malformed events, and its files have the names
// an uninterrupted replay gives them (checkpoints are cut by the records'
// arrival times: --checkpoint-step).
func TestKinesisReplayKilledAndRestartedEqualsWhatWasPut(t *testing.T) {
	bin := buildBinary(t)
	srv := testenv.Kinesalite(t)
	const stream = "clicks"
	testenv.CreateStream(t, srv.Client, stream, 4)
	ref, err := generator.NewReference(generator.Config{Shards: 4, Events: 48_000, Seed: 11, BadEvery: 4000})
	if err != nil {
		t.Fatal(err)
	}
	putWithReshards(t, srv.Client, stream, ref)
	if n := len(testenv.OpenShards(t, srv.Client, stream)); n != 4 {
		t.Fatalf("after a split and a merge the stream has %d open shards, want 4", n)
	}

	env := append(os.Environ(), "AWS_ENDPOINT_URL="+srv.Endpoint(), "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x",
		"AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true")
	dir := t.TempDir()
	replayArgs := func(dir string) []string {
		return []string{"replay", "clickstream", "--source", "kinesis://" + stream, "--from", "trim_horizon", "--to", "now",
			"--status", "off", "--out", filepath.Join(dir, "out"), "--checkpoints", filepath.Join(dir, "ckpt"),
			"--checkpoint-step", "100ms"}
	}
	args := replayArgs(dir)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	newCmd := func() *exec.Cmd {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		return cmd
	}
	kills, out := runKilled(t, newCmd, newestCheckpoint(t, filepath.Join(dir, "ckpt")), 100*time.Millisecond, rng, 5)
	t.Logf("finished after %d kills:\n%s", kills, out)
	if kills < 3 {
		t.Fatalf("only %d kills: the test did not test", kills)
	}

	checkPageStats(t, filepath.Join(dir, "out"), ref)

	whole := t.TempDir()
	cmd := exec.Command(bin, replayArgs(whole)...)
	cmd.Env = env
	if log, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the uninterrupted replay: %v\n%s", err, log)
	}
	if got, want := parquetNames(t, filepath.Join(dir, "out")), parquetNames(t, filepath.Join(whole, "out")); !slices.Equal(got, want) {
		t.Errorf("the killed replay's files\n%v\nare not the uninterrupted replay's\n%v", got, want)
	}
}

// checkPageStats checks that the page_stats table under out, read back by
// DuckDB, holds exactly the totals of ref's events, and the dead letters
// exactly its malformed events.
func checkPageStats(t *testing.T, out string, ref *generator.Reference) {
	t.Helper()
	want, malformed := expectedPageStats(t, ref)
	checkPageStatsRows(t, out, want, malformed)
}

// checkPageStatsRows checks that the page_stats table under out holds
// exactly the rows want, and the dead letters malformed lines.
func checkPageStatsRows(t *testing.T, out string, want []*pageStats, malformed int) {
	t.Helper()
	got := testenv.DuckDB(t, fmt.Sprintf(`SELECT strftime(window_start, '%%Y-%%m-%%dT%%H:%%M') AS w, page, events, page_views,
		add_to_cart, purchases, revenue, unique_users FROM read_parquet('%s/page_stats/**/*.parquet') ORDER BY w, page`, out))
	if len(got) != len(want) {
		t.Fatalf("page_stats has %d rows, want %d", len(got), len(want))
	}
	for i, g := range got {
		w := want[i]
		key := fmt.Sprint(g["w"], " ", g["page"])
		if key != w.window+" "+w.page {
			t.Fatalf("row %d is %s, want %s %s", i, key, w.window, w.page)
		}
		for col, n := range map[string]int64{"events": w.events, "page_views": w.views, "add_to_cart": w.carts, "purchases": w.purchases, "unique_users": int64(len(w.users))} {
			if fmt.Sprint(g[col]) != fmt.Sprint(n) {
				t.Errorf("%s: %s = %v, want %d", key, col, g[col], n)
			}
		}
		if rev, _ := g["revenue"].(float64); math.Abs(rev-w.revenue) > 1e-6*max(1, w.revenue) {
			t.Errorf("%s: revenue = %v, want %v", key, g["revenue"], w.revenue)
		}
	}
	if dead := deadLetters(t, filepath.Dir(out)); len(dead) != malformed {
		t.Errorf("%d dead letters, want the %d malformed events", len(dead), malformed)
	}
}

// putWithReshards writes ref's events interleaved across its shards (so event
// time rises evenly): the first third plainly, then splits shardId-0 and
// writes the second third as KPL aggregates, then merges the two shards of the
// upper half and writes the rest plainly.
func putWithReshards(t *testing.T, c *awskinesis.Client, stream string, ref *generator.Reference) {
	t.Helper()
	events := interleaved(ref)
	third := len(events) / 3
	put := func(evs []generator.Event, aggregate bool) { putEvents(t, c, stream, evs, aggregate) }
	put(events[:third], false)

	half := new(big.Int).Lsh(big.NewInt(1), 125) // the middle of shardId-000000000000's quarter of the key space
	if _, err := c.SplitShard(t.Context(), &awskinesis.SplitShardInput{StreamName: aws.String(stream),
		ShardToSplit: aws.String("shardId-000000000000"), NewStartingHashKey: aws.String(half.String())}); err != nil {
		t.Fatalf("split: %v", err)
	}
	testenv.WaitActive(t, c, stream)
	put(events[third:2*third], true)

	if _, err := c.MergeShards(t.Context(), &awskinesis.MergeShardsInput{StreamName: aws.String(stream),
		ShardToMerge: aws.String("shardId-000000000002"), AdjacentShardToMerge: aws.String("shardId-000000000003")}); err != nil {
		t.Fatalf("merge: %v", err)
	}
	testenv.WaitActive(t, c, stream)
	put(events[2*third:], false)
}

// interleaved returns ref's events interleaved across its shards, so that
// event time rises evenly.
func interleaved(ref *generator.Reference) []generator.Event {
	var events []generator.Event
	for i := int64(0); ; i++ {
		added := false
		for s := range ref.Config().Shards {
			if i < ref.ShardEvents(s) {
				var e generator.Event
				e.Data, e.PartitionKey, _ = ref.Append(nil, s, i)
				events = append(events, e)
				added = true
			}
		}
		if !added {
			return events
		}
	}
}

// putEvents writes evs into the stream with the Kinesis producer sink, as
// KPL aggregates if aggregate.
func putEvents(t *testing.T, c *awskinesis.Client, stream string, evs []generator.Event, aggregate bool) {
	t.Helper()
	p, err := sink.NewProducer(sink.ProducerConfig{Stream: stream, Client: c, Aggregate: aggregate})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if err := p.Put(t.Context(), e.PartitionKey, e.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
}

type pageStats struct {
	window, page                    string
	events, views, carts, purchases int64
	revenue                         float64
	users                           map[string]bool
}

// expectedPageStats computes page_stats from the generated events directly.
func expectedPageStats(t *testing.T, ref *generator.Reference) (rows []*pageStats, malformed int) {
	t.Helper()
	byKey := map[string]*pageStats{}
	for e := range ref.All() {
		if e.Malformed {
			malformed++
			continue
		}
		var ev struct {
			UserID    string    `json:"user_id"`
			EventType string    `json:"event_type"`
			Page      string    `json:"page"`
			TS        time.Time `json:"ts"`
			Price     float64   `json:"price"`
		}
		if err := json.Unmarshal(e.Data, &ev); err != nil {
			t.Fatalf("event %s: %v", e.Data, err)
		}
		w := ev.TS.UTC().Truncate(time.Minute).Format("2006-01-02T15:04")
		r := byKey[w+" "+ev.Page]
		if r == nil {
			r = &pageStats{window: w, page: ev.Page, users: map[string]bool{}}
			byKey[w+" "+ev.Page] = r
		}
		r.events++
		r.users[ev.UserID] = true
		switch ev.EventType {
		case generator.PageView:
			r.views++
		case generator.AddToCart:
			r.carts++
		case generator.Purchase:
			r.purchases++
			r.revenue += ev.Price
		}
	}
	for _, r := range byKey {
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool {
		return rows[i].window < rows[j].window || rows[i].window == rows[j].window && rows[i].page < rows[j].page
	})
	return rows, malformed
}

// A replay from a time the stream no longer retains fails in one line that
// names the oldest time retained, instead of reading from the oldest record
// as if nothing were missing.
func TestReplayOlderThanRetentionIsRefused(t *testing.T) {
	srv := testenv.Kinesalite(t)
	testenv.CreateStream(t, srv.Client, "short", 2)
	for k, v := range map[string]string{"AWS_ENDPOINT_URL": srv.Endpoint(), "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
		"AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"} {
		t.Setenv(k, v)
	}
	dir := t.TempDir()
	from := time.Now().Add(-30 * time.Hour).UTC().Format(time.RFC3339)
	code, out, errs := runCLI(t, "replay", "clickstream", "--source", "kinesis://short", "--from", from, "--status", "off",
		"--out", filepath.Join(dir, "out"), "--checkpoints", filepath.Join(dir, "ckpt"))
	if code == 0 || !strings.Contains(errs, "start not retained: "+from+" is older than what stream short retains (24 hours)") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Fatalf("exit %d, stderr %q (stdout %q); want one line refusing the start", code, errs, out)
	}
}
