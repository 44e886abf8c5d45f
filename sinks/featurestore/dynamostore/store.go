package dynamostore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"

	"github.com/shardflow/shardflow/sinks/featurestore"
	"github.com/shardflow/shardflow/sinks/featurestore/feast"
)

// The item attributes the store keeps besides the features.
const (
	attrEntity    = "entity_id"  // S, partition key
	attrView      = "view"       // S, sort key
	attrEventTime = "event_ts"   // N, Unix milliseconds
	attrRevision  = "revision"   // N, orders rows of one event_ts
	attrExpiresAt = "expires_at" // N, Unix seconds; only when the view has a TTL
)

var reserved = []string{attrEntity, attrView, attrEventTime, attrRevision, attrExpiresAt}

const (
	// putsInFlight bounds the PutItem calls one Put has in flight.
	putsInFlight = 16
	// putRetries bounds the store's own retries of a throttled PutItem.
	putRetries = 8
	// putBackoff is the first wait before one; it doubles up to a second.
	putBackoff = 10 * time.Millisecond
	// getBatch is BatchGetItem's limit of keys per call.
	getBatch = 100
	// tableWait bounds how long Open waits for a table it created to be
	// ACTIVE.
	tableWait = 5 * time.Minute
)

// putCondition lets a row replace the stored one only if that is not newer:
// (event_ts, revision) compared in that order.
const putCondition = "attribute_not_exists(#e) OR #t < :t OR (#t = :t AND #r <= :r)"

// Store is a featurestore.Store of one view on a DynamoDB table, in the
// native layout (see the package documentation).
type Store struct {
	client *dynamodb.Client
	table  string
	view   featurestore.View
	now    func() time.Time
	// inFlight is putsInFlight; the benchmark varies it.
	inFlight int
	// backoff is the first wait before a throttled PutItem is sent again
	// (putBackoff; tests shorten it).
	backoff time.Duration
	// feast is whether the store writes Feast's layout (see feast.go).
	feast bool
	// expiresAt is the attribute DynamoDB's TTL deletes items by.
	expiresAt string
}

var _ featurestore.Store = (*Store)(nil)

// Open opens the store of view at loc (dynamodb://TABLE), creating the table
// (PAY_PER_REQUEST) if it does not exist and waiting until it is ACTIVE. The
// client is configured as the AWS SDK's config.LoadDefaultConfig does
// (environment, shared profile, instance role), then by optFns (a test's
// endpoint and credentials, retries).
func Open(ctx context.Context, loc featurestore.Location, view featurestore.View, optFns ...func(*dynamodb.Options)) (*Store, error) {
	if loc.Scheme != "dynamodb" {
		return nil, fmt.Errorf("dynamostore: %s is not a dynamodb:// location", loc)
	}
	if err := loc.Unknown(); err != nil {
		return nil, err
	}
	if err := view.Validate(); err != nil {
		return nil, err
	}
	table, isFeast := loc.Target, loc.Layout == featurestore.Feast
	if isFeast {
		// Feature names live in the values map, apart from the item's own
		// attributes.
		var err error
		if table, err = feastTable(loc.Target, loc.Project, view.Name); err != nil {
			return nil, err
		}
	} else {
		for _, f := range view.Features {
			if slices.Contains(reserved, f.Name) {
				return nil, fmt.Errorf("dynamostore: view %q: feature %q has the name of an attribute the store keeps (%v)", view.Name, f.Name, reserved)
			}
		}
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("dynamostore: AWS config: %w", err)
	}
	s := &Store{client: dynamodb.NewFromConfig(cfg, optFns...), table: table, view: view, now: time.Now, inFlight: putsInFlight, backoff: putBackoff, feast: isFeast, expiresAt: attrExpiresAt}
	if isFeast {
		s.expiresAt = feastExpiresAt
	}
	if err := s.ensureTable(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// ensureTable creates the table if it is missing, waits until it is ACTIVE and
// checks its key schema; with a TTL it enables DynamoDB's expiry on
// expires_at where the server has the TTL API.
func (s *Store) ensureTable(ctx context.Context) error {
	desc, err := s.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &s.table})
	var notFound *types.ResourceNotFoundException
	switch {
	case errors.As(err, &notFound):
		in := &dynamodb.CreateTableInput{
			TableName:   &s.table,
			BillingMode: types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{
				{AttributeName: aws.String(attrEntity), AttributeType: types.ScalarAttributeTypeS},
				{AttributeName: aws.String(attrView), AttributeType: types.ScalarAttributeTypeS},
			},
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(attrEntity), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(attrView), KeyType: types.KeyTypeRange},
			},
		}
		if s.feast { // as Feast's update() creates it
			in.AttributeDefinitions, in.KeySchema = in.AttributeDefinitions[:1], in.KeySchema[:1]
		}
		_, err = s.client.CreateTable(ctx, in)
		var inUse *types.ResourceInUseException
		if err != nil && !errors.As(err, &inUse) { // in use: another writer created it first
			return fmt.Errorf("dynamostore: create table %s: %w", s.table, err)
		}
		fallthrough
	case err == nil && desc.Table.TableStatus != types.TableStatusActive:
		w := dynamodb.NewTableExistsWaiter(s.client, func(o *dynamodb.TableExistsWaiterOptions) {
			o.MinDelay, o.MaxDelay = 100*time.Millisecond, 5*time.Second
		})
		desc, err = w.WaitForOutput(ctx, &dynamodb.DescribeTableInput{TableName: &s.table}, tableWait)
		if err != nil {
			return fmt.Errorf("dynamostore: table %s did not become ACTIVE: %w", s.table, err)
		}
	case err != nil:
		return fmt.Errorf("dynamostore: describe table %s: %w", s.table, err)
	}
	if err := s.checkKeys(desc.Table.KeySchema); err != nil {
		return err
	}
	if s.view.TTL > 0 {
		return s.enableTTL(ctx)
	}
	return nil
}

func (s *Store) checkKeys(schema []types.KeySchemaElement) error {
	var hash, rng string
	for _, k := range schema {
		switch k.KeyType {
		case types.KeyTypeHash:
			hash = aws.ToString(k.AttributeName)
		case types.KeyTypeRange:
			rng = aws.ToString(k.AttributeName)
		}
	}
	if s.feast && (hash != feastEntity || rng != "") {
		return fmt.Errorf("dynamostore: table %s has keys (%q, %q); Feast's layout needs partition key %q and no sort key", s.table, hash, rng, feastEntity)
	}
	if !s.feast && (hash != attrEntity || rng != attrView) {
		return fmt.Errorf("dynamostore: table %s has keys (%q, %q); the native layout needs partition key %q and sort key %q", s.table, hash, rng, attrEntity, attrView)
	}
	return nil
}

// enableTTL turns on DynamoDB's expiry of items on expires_at unless it is on
// already. A server without the TTL API (dynalite) is tolerated: Get filters
// expired rows either way. TTL on another attribute is an error, since items
// would then never be deleted.
func (s *Store) enableTTL(ctx context.Context) error {
	d, err := s.client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: &s.table})
	if unsupported(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("dynamostore: describe TTL of %s: %w", s.table, err)
	}
	if t := d.TimeToLiveDescription; t != nil {
		switch t.TimeToLiveStatus {
		case types.TimeToLiveStatusEnabled, types.TimeToLiveStatusEnabling:
			if a := aws.ToString(t.AttributeName); a != s.expiresAt {
				return fmt.Errorf("dynamostore: table %s expires items on %q, not %q", s.table, a, s.expiresAt)
			}
			return nil
		}
	}
	_, err = s.client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               &s.table,
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(s.expiresAt), Enabled: aws.Bool(true)},
	})
	if err != nil && !unsupported(err) {
		return fmt.Errorf("dynamostore: enable TTL on %s: %w", s.table, err)
	}
	return nil
}

// unsupported reports whether err says the server does not know the
// operation.
func unsupported(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "UnknownOperationException"
}

// Put writes rows with one conditional PutItem each, putsInFlight at a time
// (BatchWriteItem takes no condition). A failed condition means the stored
// row is newer and is not an error. A throttled call is retried by the SDK's
// retryer, then by putItem with backoff.
func (s *Store) Put(ctx context.Context, rows []featurestore.Row) error {
	puts := make([]*dynamodb.PutItemInput, len(rows))
	for i, r := range rows {
		var err error
		if s.feast {
			puts[i], err = s.feastPut(r)
		} else {
			puts[i], err = s.nativePut(r)
		}
		if err != nil {
			return err
		}
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(s.inFlight)
	for i, put := range puts {
		g.Go(func() error {
			if err := s.putItem(ctx, put); err != nil {
				return fmt.Errorf("dynamostore: put %q into %s: %w", rows[i].Entity, s.table, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// putItem sends put, and again while DynamoDB throttles it, at most
// putRetries times more, with a backoff of s.backoff doubling to a second:
// these retries come after the SDK retryer's own, which gives up after its
// few attempts while a hot partition may stay throttled for longer. A failed
// condition (the stored row is newer) is not an error.
func (s *Store) putItem(ctx context.Context, put *dynamodb.PutItemInput) error {
	backoff := s.backoff
	for retry := 0; ; retry++ {
		_, err := s.client.PutItem(ctx, put)
		var stale *types.ConditionalCheckFailedException
		if err == nil || errors.As(err, &stale) {
			return nil
		}
		if !throttled(err) || retry == putRetries {
			return err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (while throttled: %v)", ctx.Err(), err)
		case <-t.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}

// throttled reports whether err is DynamoDB's answer to too many requests.
func throttled(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode() {
	case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded":
		return true
	}
	return false
}

// item encodes r: absent attributes are nulls; Float64 values DynamoDB's
// Number cannot hold (NaN, infinities, magnitudes outside 1e-130..1e126) are
// kept as 8 bytes (B, IEEE 754 big-endian).
func (s *Store) item(r featurestore.Row) (map[string]types.AttributeValue, error) {
	if err := s.check(r); err != nil {
		return nil, err
	}
	item := make(map[string]types.AttributeValue, len(r.Values)+4)
	item[attrEntity] = &types.AttributeValueMemberS{Value: r.Entity}
	item[attrView] = &types.AttributeValueMemberS{Value: s.view.Name}
	item[attrEventTime] = number(r.EventTime)
	item[attrRevision] = number(r.Revision)
	if s.view.TTL > 0 {
		item[attrExpiresAt] = number(time.UnixMilli(r.EventTime).Add(s.view.TTL).Unix())
	}
	for i, f := range s.view.Features {
		v := r.Values[i]
		if v.Null {
			continue
		}
		switch f.Type {
		case featurestore.Int64, featurestore.Timestamp:
			item[f.Name] = number(v.Int)
		case featurestore.Float64:
			if a := math.Abs(v.Float); a == 0 || a >= 1e-130 && a < 1e126 {
				item[f.Name] = &types.AttributeValueMemberN{Value: strconv.FormatFloat(v.Float, 'g', -1, 64)}
			} else {
				item[f.Name] = &types.AttributeValueMemberB{Value: binary.BigEndian.AppendUint64(nil, math.Float64bits(v.Float))}
			}
		case featurestore.String:
			item[f.Name] = &types.AttributeValueMemberS{Value: v.Str}
		}
	}
	return item, nil
}

// nativePut is the conditional PutItem of r in the native layout.
func (s *Store) nativePut(r featurestore.Row) (*dynamodb.PutItemInput, error) {
	item, err := s.item(r)
	if err != nil {
		return nil, err
	}
	return &dynamodb.PutItemInput{
		TableName:                 &s.table,
		Item:                      item,
		ConditionExpression:       aws.String(putCondition),
		ExpressionAttributeNames:  map[string]string{"#e": attrEntity, "#t": attrEventTime, "#r": attrRevision},
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": item[attrEventTime], ":r": item[attrRevision]},
	}, nil
}

// check refuses a row the view cannot hold.
func (s *Store) check(r featurestore.Row) error {
	if r.Entity == "" {
		return fmt.Errorf("dynamostore: view %q: a row has an empty entity", s.view.Name)
	}
	if len(r.Values) != len(s.view.Features) {
		return fmt.Errorf("dynamostore: view %q: entity %q has %d values for %d features", s.view.Name, r.Entity, len(r.Values), len(s.view.Features))
	}
	return nil
}

func number(n int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// Get reads the entities' rows with strongly consistent BatchGetItem calls of
// up to 100 keys, retrying the keys a call leaves unprocessed, and drops
// expired rows.
func (s *Store) Get(ctx context.Context, entities []string) ([]*featurestore.Row, error) {
	found := make(map[string]*featurestore.Row, len(entities))
	var unique []string
	for _, e := range entities {
		if _, ok := found[e]; !ok && e != "" {
			found[e] = nil
			unique = append(unique, e)
		}
	}
	for chunk := range slices.Chunk(unique, getBatch) {
		keys := make([]map[string]types.AttributeValue, len(chunk))
		// ids maps a Feast entity_id back to its entity.
		var ids map[string]string
		if s.feast {
			ids = make(map[string]string, len(chunk))
		}
		for i, e := range chunk {
			if s.feast {
				id := feast.DynamoEntityID(feast.EntityKey(s.view.Entity, e))
				ids[id] = e
				keys[i] = map[string]types.AttributeValue{feastEntity: &types.AttributeValueMemberS{Value: id}}
				continue
			}
			keys[i] = map[string]types.AttributeValue{
				attrEntity: &types.AttributeValueMemberS{Value: e},
				attrView:   &types.AttributeValueMemberS{Value: s.view.Name},
			}
		}
		if err := s.batchGet(ctx, keys, ids, found); err != nil {
			return nil, err
		}
	}
	now := s.now()
	out := make([]*featurestore.Row, len(entities))
	for i, e := range entities {
		if r := found[e]; r != nil && !s.view.Expired(r.EventTime, now) {
			c := *r
			c.Values = slices.Clone(r.Values)
			out[i] = &c
		}
	}
	return out, nil
}

// batchGet reads keys into found, retrying unprocessed keys with backoff.
func (s *Store) batchGet(ctx context.Context, keys []map[string]types.AttributeValue, ids map[string]string, found map[string]*featurestore.Row) error {
	backoff := 10 * time.Millisecond
	for len(keys) > 0 {
		out, err := s.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
			RequestItems: map[string]types.KeysAndAttributes{s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}},
		})
		if err != nil {
			return fmt.Errorf("dynamostore: get from %s: %w", s.table, err)
		}
		for _, item := range out.Responses[s.table] {
			var r *featurestore.Row
			var err error
			if s.feast {
				id, ok := item[feastEntity].(*types.AttributeValueMemberS)
				var e string
				if ok {
					e, ok = ids[id.Value]
				}
				if !ok {
					return fmt.Errorf("dynamostore: %s: BatchGetItem returned an item that was not asked for", s.table)
				}
				r, err = s.feastRow(e, item)
			} else {
				r, err = s.row(item)
			}
			if err != nil {
				return err
			}
			found[r.Entity] = r
		}
		keys = out.UnprocessedKeys[s.table].Keys
		if len(keys) == 0 {
			return nil
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, time.Second)
	}
	return nil
}

// row decodes an item that item encoded.
func (s *Store) row(item map[string]types.AttributeValue) (*featurestore.Row, error) {
	entity, ok := item[attrEntity].(*types.AttributeValueMemberS)
	if !ok {
		return nil, fmt.Errorf("dynamostore: %s: an item has no string %s", s.table, attrEntity)
	}
	bad := func(attr string) error {
		return fmt.Errorf("dynamostore: %s: entity %q, view %q: attribute %q is not what the view's types need", s.table, entity.Value, s.view.Name, attr)
	}
	ts, err := intOf(item[attrEventTime])
	if err != nil {
		return nil, bad(attrEventTime)
	}
	rev, err := intOf(item[attrRevision])
	if err != nil {
		return nil, bad(attrRevision)
	}
	r := &featurestore.Row{Entity: entity.Value, EventTime: ts, Revision: rev, Values: make([]featurestore.Value, len(s.view.Features))}
	for i, f := range s.view.Features {
		a, ok := item[f.Name]
		if !ok {
			r.Values[i].Null = true
			continue
		}
		switch f.Type {
		case featurestore.Int64, featurestore.Timestamp:
			if r.Values[i].Int, err = intOf(a); err != nil {
				return nil, bad(f.Name)
			}
		case featurestore.Float64:
			switch a := a.(type) {
			case *types.AttributeValueMemberN:
				if r.Values[i].Float, err = strconv.ParseFloat(a.Value, 64); err != nil {
					return nil, bad(f.Name)
				}
			case *types.AttributeValueMemberB:
				if len(a.Value) != 8 {
					return nil, bad(f.Name)
				}
				r.Values[i].Float = math.Float64frombits(binary.BigEndian.Uint64(a.Value))
			default:
				return nil, bad(f.Name)
			}
		case featurestore.String:
			str, ok := a.(*types.AttributeValueMemberS)
			if !ok {
				return nil, bad(f.Name)
			}
			r.Values[i].Str = str.Value
		}
	}
	return r, nil
}

func intOf(a types.AttributeValue) (int64, error) {
	n, ok := a.(*types.AttributeValueMemberN)
	if !ok {
		return 0, errors.New("not a number")
	}
	return strconv.ParseInt(n.Value, 10, 64)
}

// Close releases nothing: the SDK client holds no resources of its own
// beyond its HTTP client's idle connections, which the caller's transport
// owns.
func (s *Store) Close() error { return nil }
