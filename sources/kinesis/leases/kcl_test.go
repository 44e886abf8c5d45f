package leases

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardflow/shardflow/internal/testenv"
)

// TestKCLImport writes items as a KCL 2.x/3.x application leaves them
// (with attributes shardflow does not know) and reads them as leases that
// resume exactly after their checkpoints.
func TestKCLImport(t *testing.T) {
	srv := testenv.Dynalite(t)
	ctx := context.Background()
	cl := newClient(t, srv)
	tb, _ := NewTable(cl, "kcl-app")
	if err := tb.Create(ctx); err != nil {
		t.Fatal(err)
	}
	S := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	N := func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
	items := []map[string]types.AttributeValue{
		{"leaseKey": S("shardId-000000000000"), "leaseOwner": S("kcl-worker-1"), "leaseCounter": N("42"),
			"checkpoint": S("49590338271490256608559692538361571095921575989136588802"), "checkpointSubSequenceNumber": N("3"),
			"ownerSwitchesSinceCheckpoint": N("1"), "startingHashKey": S("0"), "endingHashKey": S("170141183460469231731687303715884105727"),
			"pendingCheckpoint": S("49590338271490256608559692538361571095921575989136588900"), "leaseState": S("ACTIVE")},
		{"leaseKey": S("shardId-000000000001"), "leaseCounter": N("7"), "checkpoint": S("SHARD_END"), "checkpointSubSequenceNumber": N("0"),
			"ownerSwitchesSinceCheckpoint": N("0"), "childShardIds": &types.AttributeValueMemberSS{Value: []string{"shardId-000000000002"}}},
		{"leaseKey": S("shardId-000000000002"), "leaseCounter": N("0"), "checkpoint": S("TRIM_HORIZON"), "checkpointSubSequenceNumber": N("0"),
			"ownerSwitchesSinceCheckpoint": N("0"), "parentShardId": &types.AttributeValueMemberSS{Value: []string{"shardId-000000000001"}}},
		{"leaseKey": S("shardId-000000000003"), "leaseOwner": S("kcl-worker-2"), "leaseCounter": N("5"), "checkpoint": S("LATEST"),
			"checkpointSubSequenceNumber": N("0"), "ownerSwitchesSinceCheckpoint": N("0"), "checkpointOwner": S("kcl-worker-1")},
	}
	for _, it := range items {
		if _, err := cl.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("kcl-app"), Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := tb.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Lease{}
	for _, l := range all {
		got[l.Key] = l
	}
	l0 := got["shardId-000000000000"]
	if r := l0.Resume(); r != (Start{Kind: StartAfter, Seq: "49590338271490256608559692538361571095921575989136588802", SubSequence: 3}) ||
		l0.Owner != "kcl-worker-1" || l0.Counter != 42 || l0.OwnerSwitches != 1 || l0.EndingHash != "170141183460469231731687303715884105727" {
		t.Fatalf("shard 0: %+v resume %+v", l0, l0.Resume())
	}
	if l1 := got["shardId-000000000001"]; !l1.Finished() || l1.Resume().Kind != StartShardEnd || len(l1.Children) != 1 {
		t.Fatalf("shard 1: %+v", l1)
	}
	if l2 := got["shardId-000000000002"]; l2.Resume().Kind != StartTrimHorizon || !Leasable(l2, got) {
		t.Fatalf("shard 2 (child of a finished parent): %+v leasable %v", l2, Leasable(l2, got))
	}
	if l3 := got["shardId-000000000003"]; l3.Resume().Kind != StartLatest || !l3.HandingOff() {
		t.Fatalf("shard 3: %+v", l3)
	}

	// A shardflow worker takes the KCL workers' leases once they stop
	// renewing, fenced from their counters, and resumes after the commit.
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	w := newCoord(t, srv, "kcl-app", "shardflow-1", clock, nil, nil)
	for i := 0; len(w.Held()) < 3; i++ {
		if i == 6 {
			t.Fatalf("KCL leases not taken: %v", heldKeys(w))
		}
		rounds(t, w)
		clock.Advance(time.Second)
	}
	for _, l := range w.Held() {
		if l.Key == "shardId-000000000000" && (l.Counter != 43 || l.Resume().SubSequence != 3 || l.OwnerSwitches != 2) {
			t.Fatalf("taken KCL lease: %+v", l)
		}
	}
	if err := w.Checkpoint(ctx, "shardId-000000000000", "49590338271490256608559692538361571095921575989136589000", 0, []byte("s")); err != nil {
		t.Fatal(err)
	}
}
