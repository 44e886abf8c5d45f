package leases

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Attribute names of a lease item. The first group is the Kinesis Client
// Library 2.x/3.x layout (its DynamoDB lease serializer), so a table written
// by a KCL application reads as shardflow leases; the shardflow* attributes
// are shardflow's own and a KCL worker ignores them.
const (
	AttrLeaseKey        = "leaseKey"                     // S, the table's only key: the shard id
	AttrLeaseOwner      = "leaseOwner"                   // S, absent when unowned
	AttrLeaseCounter    = "leaseCounter"                 // N, the fencing epoch: every owner write increments it
	AttrCheckpoint      = "checkpoint"                   // S, a sequence number or a Sentinel
	AttrSubSequence     = "checkpointSubSequenceNumber"  // N, the user record inside a KPL aggregate
	AttrOwnerSwitches   = "ownerSwitchesSinceCheckpoint" // N
	AttrParentShardIDs  = "parentShardId"                // SS
	AttrChildShardIDs   = "childShardIds"                // SS
	AttrStartingHash    = "startingHashKey"              // S
	AttrEndingHash      = "endingHashKey"                // S
	AttrCheckpointOwner = "checkpointOwner"              // S, the old owner while a hand-off is in progress

	AttrState      = "shardflowState"      // B, the shard's window state at the checkpoint
	AttrThroughput = "shardflowThroughput" // N, records/s the owner measured on the shard
)

// Checkpoint sentinels, as KCL writes them in the checkpoint attribute.
const (
	TrimHorizon = "TRIM_HORIZON"
	Latest      = "LATEST"
	AtTimestamp = "AT_TIMESTAMP"
	ShardEnd    = "SHARD_END"
)

// MaxStateBytes bounds the window state stored in the lease item. A DynamoDB
// item is at most 400 KB; the rest is left for the KCL attributes. Larger
// state is refused with ErrStateTooLarge.
//
// TODO(issue 12): store state above the limit in S3 and keep a pointer
// (shardflowStateRef S, an s3:// URL with the lease counter in its name) in
// the item instead.
const MaxStateBytes = 350 << 10

// Lease is one shard's lease item.
type Lease struct {
	Key     string // the shard id (KCL multi-stream tables use "account:stream:epoch:shardId")
	Owner   string // "" when unowned
	Counter int64  // the fencing epoch

	// Checkpoint is the last sequence number processed, or a sentinel
	// (TrimHorizon, Latest, AtTimestamp, ShardEnd); SubSequence is the last
	// user record processed inside the aggregate at Checkpoint.
	Checkpoint    string
	SubSequence   int64
	OwnerSwitches int64

	Parents, Children        []string
	StartingHash, EndingHash string
	CheckpointOwner          string // the old owner while a hand-off is in progress
	State                    []byte
	Throughput               float64 // records/s; 0 when not measured
}

// Finished reports whether the shard was read to its end.
func (l Lease) Finished() bool { return l.Checkpoint == ShardEnd }

// HandingOff reports whether a hand-off from CheckpointOwner to Owner is in
// progress.
func (l Lease) HandingOff() bool { return l.CheckpointOwner != "" }

// StartKind says where a reader of a lease's shard starts.
type StartKind int

const (
	// StartAfter: after the record (Seq, SubSequence); records of the
	// aggregate at Seq with a sub-sequence number above SubSequence are new.
	StartAfter StartKind = iota
	StartTrimHorizon
	StartLatest
	StartAtTimestamp // the timestamp is the application's; KCL does not store it in the lease
	StartShardEnd    // nothing left to read
)

// Start is where a reader resumes a lease.
type Start struct {
	Kind        StartKind
	Seq         string
	SubSequence int64
}

// Resume returns where a reader of l's shard starts: exactly after its
// checkpoint, whether shardflow or a KCL application wrote it.
func (l Lease) Resume() Start {
	switch l.Checkpoint {
	case "", TrimHorizon:
		return Start{Kind: StartTrimHorizon}
	case Latest:
		return Start{Kind: StartLatest}
	case AtTimestamp:
		return Start{Kind: StartAtTimestamp}
	case ShardEnd:
		return Start{Kind: StartShardEnd}
	}
	return Start{Kind: StartAfter, Seq: l.Checkpoint, SubSequence: l.SubSequence}
}

// ErrStateTooLarge is returned by a checkpoint whose state exceeds MaxStateBytes.
var ErrStateTooLarge = errors.New("leases: state too large for the lease item")

// marshal returns the item of l.
func marshal(l Lease) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		AttrLeaseKey:      &types.AttributeValueMemberS{Value: l.Key},
		AttrLeaseCounter:  num(l.Counter),
		AttrSubSequence:   num(l.SubSequence),
		AttrOwnerSwitches: num(l.OwnerSwitches),
	}
	putS(item, AttrLeaseOwner, l.Owner)
	putS(item, AttrCheckpoint, l.Checkpoint)
	putS(item, AttrStartingHash, l.StartingHash)
	putS(item, AttrEndingHash, l.EndingHash)
	putS(item, AttrCheckpointOwner, l.CheckpointOwner)
	if len(l.Parents) > 0 {
		item[AttrParentShardIDs] = &types.AttributeValueMemberSS{Value: l.Parents}
	}
	if len(l.Children) > 0 {
		item[AttrChildShardIDs] = &types.AttributeValueMemberSS{Value: l.Children}
	}
	if len(l.State) > 0 {
		item[AttrState] = &types.AttributeValueMemberB{Value: l.State}
	}
	if l.Throughput > 0 {
		item[AttrThroughput] = &types.AttributeValueMemberN{Value: strconv.FormatFloat(l.Throughput, 'g', -1, 64)}
	}
	return item
}

// unmarshal reads a lease item, KCL's or shardflow's. Unknown attributes
// (KCL's pendingCheckpoint, leaseState, ...) are ignored.
func unmarshal(item map[string]types.AttributeValue) (Lease, error) {
	var l Lease
	var err error
	if l.Key, err = getS(item, AttrLeaseKey, true); err != nil {
		return l, err
	}
	fail := func(err error) (Lease, error) { return l, fmt.Errorf("lease %s: %w", l.Key, err) }
	if l.Owner, err = getS(item, AttrLeaseOwner, false); err != nil {
		return fail(err)
	}
	if l.Checkpoint, err = getS(item, AttrCheckpoint, false); err != nil {
		return fail(err)
	}
	if l.StartingHash, err = getS(item, AttrStartingHash, false); err != nil {
		return fail(err)
	}
	if l.EndingHash, err = getS(item, AttrEndingHash, false); err != nil {
		return fail(err)
	}
	if l.CheckpointOwner, err = getS(item, AttrCheckpointOwner, false); err != nil {
		return fail(err)
	}
	for attr, p := range map[string]*int64{AttrLeaseCounter: &l.Counter, AttrSubSequence: &l.SubSequence, AttrOwnerSwitches: &l.OwnerSwitches} {
		if *p, err = getN(item, attr); err != nil {
			return fail(err)
		}
	}
	for attr, p := range map[string]*[]string{AttrParentShardIDs: &l.Parents, AttrChildShardIDs: &l.Children} {
		switch v := item[attr].(type) {
		case nil:
		case *types.AttributeValueMemberSS:
			*p = append([]string(nil), v.Value...)
		case *types.AttributeValueMemberL: // tolerate a list of strings
			for _, e := range v.Value {
				s, ok := e.(*types.AttributeValueMemberS)
				if !ok {
					return fail(fmt.Errorf("attribute %s: list of %T, want strings", attr, e))
				}
				*p = append(*p, s.Value)
			}
		default:
			return fail(fmt.Errorf("attribute %s: %T, want SS", attr, v))
		}
	}
	switch v := item[AttrState].(type) {
	case nil:
	case *types.AttributeValueMemberB:
		l.State = v.Value
	default:
		return fail(fmt.Errorf("attribute %s: %T, want B", AttrState, v))
	}
	if v, ok := item[AttrThroughput].(*types.AttributeValueMemberN); ok {
		if l.Throughput, err = strconv.ParseFloat(v.Value, 64); err != nil {
			return fail(fmt.Errorf("attribute %s: %w", AttrThroughput, err))
		}
	}
	return l, nil
}

func num(n int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func putS(item map[string]types.AttributeValue, attr, v string) {
	if v != "" {
		item[attr] = &types.AttributeValueMemberS{Value: v}
	}
}

func getS(item map[string]types.AttributeValue, attr string, required bool) (string, error) {
	switch v := item[attr].(type) {
	case nil:
		if required {
			return "", fmt.Errorf("leases: item without %s", attr)
		}
		return "", nil
	case *types.AttributeValueMemberS:
		return v.Value, nil
	default:
		return "", fmt.Errorf("attribute %s: %T, want S", attr, v)
	}
}

func getN(item map[string]types.AttributeValue, attr string) (int64, error) {
	switch v := item[attr].(type) {
	case nil:
		return 0, nil
	case *types.AttributeValueMemberN:
		n, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("attribute %s: %w", attr, err)
		}
		return n, nil
	default:
		return 0, fmt.Errorf("attribute %s: %T, want N", attr, v)
	}
}
