package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/shardflow/shardflow/jobs"
	"github.com/shardflow/shardflow/sinks/featurestore/stores"
	"github.com/shardflow/shardflow/sinks/featurestore/storetest"
	"github.com/shardflow/shardflow/sources/generator"
)

// The features job SIGKILLed at random moments and restarted, with another
// parallelism each time, until it finishes ends with the online store and
// the user_features table of an uninterrupted run: every user's row alike,
// no offline row twice.
func TestKillAnywhereFeatures(t *testing.T) {
	bin := buildBinary(t)
	input := writeInput(t, 4, 60_000)
	src := "file://" + filepath.Join(input, "*.jsonl")
	args := func(dir string, parallelism int) []string {
		return []string{"run", "features", "--source", src, "--status", "off",
			"--out", filepath.Join(dir, "out"), "--checkpoints", filepath.Join(dir, "ckpt"),
			"--features", "sqlite://" + filepath.Join(dir, "features.db"),
			"--checkpoint-interval", checkpointInterval.String(), "--parallelism", strconv.Itoa(parallelism)}
	}
	want, got := killAnywhere(t, bin, args, 3, 6)
	sameTable(t, want, got, "user_features", "window_start, user_id")
	users := make([]string, generator.NumUsers)
	for u := range users {
		users[u] = fmt.Sprintf("u%04d", u)
	}
	if w, g := onlineRows(t, want, users), onlineRows(t, got, users); len(w) == 0 || !slices.Equal(g, w) {
		t.Errorf("online store: %d users after kills, %d uninterrupted (and more than 0); first difference: %s", len(g), len(w), firstDiff(g, w))
	}
}

// onlineRows renders the rows of users in the SQLite store under dir.
func onlineRows(t *testing.T, dir string, users []string) []string {
	t.Helper()
	ctx := context.Background()
	s, err := stores.Open(ctx, "sqlite://"+filepath.Join(dir, "features.db"), jobs.UserFeatures)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return storetest.Contents(t, s, users)
}

func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("%s, want %s", got[i], want[i])
		}
	}
	return fmt.Sprintf("%d rows, want %d", len(got), len(want))
}
