package main

import (
	"context"
	"strings"
	"testing"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/sources/kinesis/leases"
)

// `shardflow workers` lists the workers of a lease table on dynalite with
// their leases and throughput, then every lease with its checkpoint, state,
// lineage and a hand-off in progress; a table that does not exist is named.
func TestWorkersListsTheLeaseTable(t *testing.T) {
	srv := testenv.DynaliteForSDK(t)
	ctx := context.Background()
	tbl, err := leases.NewTable(srv.Client, "clicks-leases")
	if err != nil {
		t.Fatal(err)
	}
	if err := tbl.Create(ctx); err != nil {
		t.Fatal(err)
	}
	for _, l := range []leases.Lease{
		{Key: "shardId-000000000000", Checkpoint: leases.ShardEnd, Counter: 9, Children: []string{"shardId-000000000002", "shardId-000000000003"}},
		{Key: "shardId-000000000001", Owner: "w-b", Counter: 4, Checkpoint: "49590338271490256608559692538361571095921575989136588898", SubSequence: 3, Throughput: 200, State: make([]byte, 3000)},
		{Key: "shardId-000000000002", Owner: "w-a", Counter: 7, Checkpoint: leases.TrimHorizon, Parents: []string{"shardId-000000000000"}, Throughput: 150},
		{Key: "shardId-000000000003", Owner: "w-a", CheckpointOwner: "w-b", Counter: 12, Checkpoint: "49590338271490256608559692538361571095921575989136588899", Parents: []string{"shardId-000000000000"}, Throughput: 100},
		{Key: "shardId-000000000004", Counter: 1, Checkpoint: leases.TrimHorizon},
	} {
		if ok, err := tbl.Put(ctx, l); err != nil || !ok {
			t.Fatalf("put %s: %v %v", l.Key, ok, err)
		}
	}
	code, out, errs := runCLI(t, "workers", "--checkpoints", "dynamodb://clicks-leases")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	t.Logf("\n%s", out)
	for _, want := range []string{
		"lease table clicks-leases: 5 leases (1 finished), 2 workers",
		"w-a        2       250        shardId-000000000002 shardId-000000000003",
		"w-b        1       200        shardId-000000000001",
		"(unowned)  1       0          shardId-000000000004",
		"shardId-000000000001  w-b    4        49590338271490256608559692538361571095921575989136588898 (sub 3)  2.9 KiB",
		"handing off from w-b; parents shardId-000000000000",
		"SHARD_END",
		"children shardId-000000000002 shardId-000000000003",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	code, _, errs = runCLI(t, "workers", "--checkpoints", "dynamodb://nope")
	if code == 0 || !strings.Contains(errs, `no lease table "nope"`) {
		t.Errorf("a missing table: exit %d, %s", code, errs)
	}
	if code, _, errs = runCLI(t, "workers", "--checkpoints", "clicks-leases"); code == 0 || !strings.Contains(errs, "want dynamodb://TABLE") {
		t.Errorf("a bad --checkpoints: exit %d, %s", code, errs)
	}
}
