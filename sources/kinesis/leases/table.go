package leases

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Client is the part of the DynamoDB API a Table uses.
type Client interface {
	CreateTable(context.Context, *dynamodb.CreateTableInput, ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// ErrLeaseLost is matched (errors.Is) by every *ConditionError: the lease
// was not as the caller expected (another counter or owner), so the caller
// no longer holds it and must not write for its shard.
var ErrLeaseLost = errors.New("leases: lease lost")

// ConditionError is a write refused by its condition.
type ConditionError struct {
	Op, Key string
	Counter int64 // the counter the caller expected
	Err     error // the SDK's ConditionalCheckFailedException
}

func (e *ConditionError) Error() string {
	return fmt.Sprintf("leases: %s %s at counter %d: lease lost: %v", e.Op, e.Key, e.Counter, e.Err)
}

// Unwrap returns ErrLeaseLost and the SDK error.
func (e *ConditionError) Unwrap() []error { return []error{ErrLeaseLost, e.Err} }

// Table is a lease table.
type Table struct {
	c    Client
	name string
}

// NewTable returns the lease table name reached through c.
func NewTable(c Client, name string) (*Table, error) {
	if c == nil || name == "" {
		return nil, errors.New("leases: NewTable needs a client and a table name")
	}
	return &Table{c: c, name: name}, nil
}

// Create creates the table (on-demand, leaseKey S the only key) unless it
// exists, and waits until it is active.
func (t *Table) Create(ctx context.Context) error {
	_, err := t.c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(t.name),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(AttrLeaseKey), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(AttrLeaseKey), KeyType: types.KeyTypeHash}},
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("leases: create table %s: %w", t.name, err)
	}
	w := dynamodb.NewTableExistsWaiter(t.c, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(t.name)}, 2*time.Minute); err != nil {
		return fmt.Errorf("leases: wait for table %s: %w", t.name, err)
	}
	return nil
}

// List returns every lease (a consistent scan).
func (t *Table) List(ctx context.Context) ([]Lease, error) {
	var out []Lease
	var start map[string]types.AttributeValue
	for {
		res, err := t.c.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(t.name), ConsistentRead: aws.Bool(true), ExclusiveStartKey: start})
		if err != nil {
			return nil, fmt.Errorf("leases: scan %s: %w", t.name, err)
		}
		for _, item := range res.Items {
			l, err := unmarshal(item)
			if err != nil {
				return nil, err
			}
			out = append(out, l)
		}
		if len(res.LastEvaluatedKey) == 0 {
			return out, nil
		}
		start = res.LastEvaluatedKey
	}
}

// Get returns the lease of key; ok is false when there is none.
func (t *Table) Get(ctx context.Context, key string) (l Lease, ok bool, err error) {
	res, err := t.c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(t.name), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{AttrLeaseKey: &types.AttributeValueMemberS{Value: key}}})
	if err != nil {
		return l, false, fmt.Errorf("leases: get %s: %w", key, err)
	}
	if res.Item == nil {
		return l, false, nil
	}
	l, err = unmarshal(res.Item)
	return l, err == nil, err
}

// Put creates l's item unless its key exists (a new shard: unowned, counter
// 0, checkpoint TRIM_HORIZON when empty); it reports whether it wrote.
func (t *Table) Put(ctx context.Context, l Lease) (bool, error) {
	if l.Checkpoint == "" {
		l.Checkpoint = TrimHorizon
	}
	_, err := t.c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(t.name), Item: marshal(l),
		ConditionExpression: aws.String("attribute_not_exists(#k)"), ExpressionAttributeNames: map[string]string{"#k": AttrLeaseKey}})
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("leases: put %s: %w", l.Key, err)
	}
	return true, nil
}

// update runs one conditional update of l's item and, when it succeeds,
// sets *l to the item written. The condition always includes the expected
// counter.
type update struct {
	op    string
	set   string // SET clause without the keyword, may be ""
	rem   string // REMOVE clause without the keyword, may be ""
	cond  string // extra condition, ANDed with the counter's
	names map[string]string
	vals  map[string]types.AttributeValue
}

func (t *Table) update(ctx context.Context, l *Lease, u update) error {
	names := map[string]string{"#c": AttrLeaseCounter}
	for k, v := range u.names {
		names[k] = v
	}
	vals := map[string]types.AttributeValue{":c": num(l.Counter), ":one": num(1)}
	for k, v := range u.vals {
		vals[k] = v
	}
	expr := "SET #c = #c + :one"
	if u.set != "" {
		expr += ", " + u.set
	}
	if u.rem != "" {
		expr += " REMOVE " + u.rem
	}
	cond := "#c = :c"
	if u.cond != "" {
		cond += " AND (" + u.cond + ")"
	}
	res, err := t.c.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(t.name),
		Key:                       map[string]types.AttributeValue{AttrLeaseKey: &types.AttributeValueMemberS{Value: l.Key}},
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals,
		ReturnValues:              types.ReturnValueAllNew,
	})
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return &ConditionError{Op: u.op, Key: l.Key, Counter: l.Counter, Err: err}
	}
	if err != nil {
		return fmt.Errorf("leases: %s %s: %w", u.op, l.Key, err)
	}
	nl, err := unmarshal(res.Attributes)
	if err != nil {
		return err
	}
	*l = nl
	return nil
}

func s(v string) *types.AttributeValueMemberS { return &types.AttributeValueMemberS{Value: v} }

// Take makes owner the owner of l, which must still be as the caller read
// it (same counter and owner): an unowned or expired lease, or a steal. A
// hand-off in progress is cancelled (its old owner can no longer commit).
func (t *Table) Take(ctx context.Context, l *Lease, owner string) error {
	u := update{op: "take", set: "#o = :me", rem: "#co", names: map[string]string{"#o": AttrLeaseOwner, "#co": AttrCheckpointOwner},
		vals: map[string]types.AttributeValue{":me": s(owner)}}
	if l.Owner == "" {
		u.cond = "attribute_not_exists(#o)"
	} else {
		u.cond = "#o = :prev"
		u.vals[":prev"] = s(l.Owner)
	}
	if l.Owner != owner {
		u.set += ", #sw = if_not_exists(#sw, :zero) + :one"
		u.names["#sw"] = AttrOwnerSwitches
		u.vals[":zero"] = num(0)
	}
	return t.update(ctx, l, u)
}

// Renew is owner's heartbeat: it increments the counter, so that other
// workers see the lease is alive. throughput (records/s, 0 for unknown) is
// stored for the planners of other workers.
func (t *Table) Renew(ctx context.Context, l *Lease, owner string, throughput float64) error {
	u := update{op: "renew", cond: "#o = :me AND attribute_not_exists(#co)", names: map[string]string{"#o": AttrLeaseOwner, "#co": AttrCheckpointOwner},
		vals: map[string]types.AttributeValue{":me": s(owner)}}
	if throughput > 0 {
		u.set = "#tp = :tp"
		u.names["#tp"] = AttrThroughput
		u.vals[":tp"] = &types.AttributeValueMemberN{Value: strconv.FormatFloat(throughput, 'g', -1, 64)}
	}
	return t.update(ctx, l, u)
}

// Checkpoint commits (seq, sub) and the shard's state for owner, fenced by
// l.Counter: it fails with a *ConditionError (errors.Is ErrLeaseLost) when
// another worker took the lease, or when a hand-off to another worker has
// completed. While a hand-off is in progress only the old owner
// (CheckpointOwner) may commit.
func (t *Table) Checkpoint(ctx context.Context, l *Lease, owner, seq string, sub int64, state []byte) error {
	if len(state) > MaxStateBytes {
		return fmt.Errorf("leases: checkpoint %s: %d bytes of state, limit %d: %w", l.Key, len(state), MaxStateBytes, ErrStateTooLarge)
	}
	u := update{op: "checkpoint", set: "#cp = :seq, #sub = :sub, #sw = :zero",
		cond:  "(#o = :me AND attribute_not_exists(#co)) OR #co = :me",
		names: map[string]string{"#o": AttrLeaseOwner, "#co": AttrCheckpointOwner, "#cp": AttrCheckpoint, "#sub": AttrSubSequence, "#sw": AttrOwnerSwitches, "#st": AttrState},
		vals:  map[string]types.AttributeValue{":me": s(owner), ":seq": s(seq), ":sub": num(sub), ":zero": num(0)}}
	if len(state) > 0 {
		u.set += ", #st = :st"
		u.vals[":st"] = &types.AttributeValueMemberB{Value: state}
	} else {
		u.rem = "#st"
	}
	return t.update(ctx, l, u)
}

// MarkShardEnd checkpoints SHARD_END: the shard was read to its end, and
// its children become leasable once every parent of theirs is finished.
func (t *Table) MarkShardEnd(ctx context.Context, l *Lease, owner string, children []string) error {
	u := update{op: "shard end", set: "#cp = :end, #sub = :zero",
		cond:  "(#o = :me AND attribute_not_exists(#co)) OR #co = :me",
		names: map[string]string{"#o": AttrLeaseOwner, "#co": AttrCheckpointOwner, "#cp": AttrCheckpoint, "#sub": AttrSubSequence},
		vals:  map[string]types.AttributeValue{":me": s(owner), ":end": s(ShardEnd), ":zero": num(0)}}
	if len(children) > 0 {
		u.set += ", #ch = :ch"
		u.names["#ch"] = AttrChildShardIDs
		u.vals[":ch"] = &types.AttributeValueMemberSS{Value: children}
	}
	return t.update(ctx, l, u)
}

// RequestHandOff starts a graceful hand-off of l from its owner to next:
// leaseOwner becomes next and checkpointOwner the old owner, who may still
// commit (Checkpoint) and then calls CompleteHandOff. next does not read the
// shard before the hand-off completes; if the old owner never completes it,
// the counter stops changing and next takes the lease after the expiry.
func (t *Table) RequestHandOff(ctx context.Context, l *Lease, next string) error {
	if l.Owner == "" || l.Owner == next {
		return fmt.Errorf("leases: hand-off of %s from %q to %q", l.Key, l.Owner, next)
	}
	return t.update(ctx, l, update{op: "request hand-off", set: "#o = :next, #co = :prev, #sw = if_not_exists(#sw, :zero) + :one",
		cond:  "#o = :prev AND attribute_not_exists(#co)",
		names: map[string]string{"#o": AttrLeaseOwner, "#co": AttrCheckpointOwner, "#sw": AttrOwnerSwitches},
		vals:  map[string]types.AttributeValue{":next": s(next), ":prev": s(l.Owner), ":zero": num(0)}})
}

// CompleteHandOff is the old owner's release at the end of a hand-off: after
// it, the new owner holds the lease and starts from the last commit.
func (t *Table) CompleteHandOff(ctx context.Context, l *Lease, prev string) error {
	return t.update(ctx, l, update{op: "complete hand-off", rem: "#co", cond: "#co = :me",
		names: map[string]string{"#co": AttrCheckpointOwner}, vals: map[string]types.AttributeValue{":me": s(prev)}})
}

// Release gives l up: it becomes unowned, leasable by any worker at once.
func (t *Table) Release(ctx context.Context, l *Lease, owner string) error {
	return t.update(ctx, l, update{op: "release", rem: "#o, #co", cond: "#o = :me AND attribute_not_exists(#co)",
		names: map[string]string{"#o": AttrLeaseOwner, "#co": AttrCheckpointOwner}, vals: map[string]types.AttributeValue{":me": s(owner)}})
}

// Leasable reports whether l may be read now given all leases: it is not
// finished and every parent lease is finished (a parent without a lease
// counts as finished: its data is past retention or was never leased).
func Leasable(l Lease, all map[string]Lease) bool {
	if l.Finished() {
		return false
	}
	for _, p := range l.Parents {
		if pl, ok := all[p]; ok && !pl.Finished() {
			return false
		}
	}
	return true
}
