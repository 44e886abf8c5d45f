package dynamostore

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/shardflow/shardflow/sinks/featurestore"
	"github.com/shardflow/shardflow/sinks/featurestore/feast"
)

// The attributes of Feast's items (dynamodb.py) and those shardflow adds,
// which Feast's reads (a projection of entity_id, event_ts and values, or
// the whole item of which it reads those three) ignore.
const (
	feastEntity    = "entity_id"            // S, the hash key: feast.DynamoEntityID
	feastEventTS   = "event_ts"             // S, feast.DynamoEventTS
	feastValues    = "values"               // M of feature name -> B, the Value protobuf
	feastEventMs   = "shardflow_event_ms"   // N, Unix milliseconds
	feastRevision  = "shardflow_revision"   // N
	feastExpiresAt = "shardflow_expires_at" // N, Unix seconds; only with a TTL
)

// feastCondition lets a row replace the stored item only if that is not
// newer. An item shardflow wrote is compared by (shardflow_event_ms,
// shardflow_revision); one Feast's materialization wrote (its PutItem
// replaces the whole item, so it has no shardflow_event_ms) by event_ts, a
// string whose order is the time order: Python's str() of a UTC datetime,
// fixed width up to the seconds, and "+" sorts before the "." of a fraction.
// A comparison with an attribute the item lacks is false, so #m's need no
// attribute_exists.
const feastCondition = "attribute_not_exists(#e) OR #m < :m OR (#m = :m AND #r <= :r) OR (attribute_not_exists(#m) AND #t <= :t)"

// feastTable is the table of view: template, Feast's table_name_template
// (default "{project}.{table_name}"), with {project} and {table_name}
// replaced. A template without {table_name} would put every view in one
// table, whose items (keyed by entity alone) the views would overwrite, and
// is refused.
func feastTable(template, project, view string) (string, error) {
	if !strings.Contains(template, "{table_name}") {
		return "", fmt.Errorf("dynamostore: layout=feast: the table %q is Feast's table_name_template and needs {table_name}, e.g. dynamodb://{project}.{table_name}?layout=feast&project=%s (Feast's default)", template, project)
	}
	return strings.NewReplacer("{project}", project, "{table_name}", view).Replace(template), nil
}

// feastPut is the conditional PutItem of r in Feast's layout.
func (s *Store) feastPut(r featurestore.Row) (*dynamodb.PutItemInput, error) {
	if err := s.check(r); err != nil {
		return nil, err
	}
	values := make(map[string]types.AttributeValue, len(r.Values))
	for i, f := range s.view.Features {
		// A null is the empty Value, an empty B, as Feast writes None.
		values[f.Name] = &types.AttributeValueMemberB{Value: feast.EncodeValue(f.Type, r.Values[i])}
	}
	ms, ts := number(r.EventTime), &types.AttributeValueMemberS{Value: feast.DynamoEventTS(r.EventTime)}
	item := map[string]types.AttributeValue{
		feastEntity:   &types.AttributeValueMemberS{Value: feast.DynamoEntityID(feast.EntityKey(s.view.Entity, r.Entity))},
		feastEventTS:  ts,
		feastValues:   &types.AttributeValueMemberM{Value: values},
		feastEventMs:  ms,
		feastRevision: number(r.Revision),
	}
	if s.view.TTL > 0 {
		item[feastExpiresAt] = number(time.UnixMilli(r.EventTime).Add(s.view.TTL).Unix())
	}
	return &dynamodb.PutItemInput{
		TableName:                 &s.table,
		Item:                      item,
		ConditionExpression:       aws.String(feastCondition),
		ExpressionAttributeNames:  map[string]string{"#e": feastEntity, "#m": feastEventMs, "#r": feastRevision, "#t": feastEventTS},
		ExpressionAttributeValues: map[string]types.AttributeValue{":m": ms, ":r": item[feastRevision], ":t": ts},
	}, nil
}

// feastRow decodes an item that feastPut encoded, or that Feast wrote (its
// event time then comes from event_ts, its revision is 0); entity is the
// entity the item's entity_id was computed from.
func (s *Store) feastRow(entity string, item map[string]types.AttributeValue) (*featurestore.Row, error) {
	bad := func(attr string, err error) error {
		return fmt.Errorf("dynamostore: %s: entity %q: attribute %s: %w", s.table, entity, attr, err)
	}
	r := &featurestore.Row{Entity: entity, Values: make([]featurestore.Value, len(s.view.Features))}
	var err error
	if a, ok := item[feastEventMs]; ok {
		if r.EventTime, err = intOf(a); err != nil {
			return nil, bad(feastEventMs, err)
		}
		if a, ok := item[feastRevision]; ok {
			if r.Revision, err = intOf(a); err != nil {
				return nil, bad(feastRevision, err)
			}
		}
	} else {
		ts, ok := item[feastEventTS].(*types.AttributeValueMemberS)
		if !ok {
			return nil, bad(feastEventTS, fmt.Errorf("not a string"))
		}
		if r.EventTime, err = parseEventTS(ts.Value); err != nil {
			return nil, bad(feastEventTS, err)
		}
	}
	values, _ := item[feastValues].(*types.AttributeValueMemberM)
	for i, f := range s.view.Features {
		var a types.AttributeValue
		if values != nil {
			a = values.Value[f.Name]
		}
		b, ok := a.(*types.AttributeValueMemberB)
		if !ok {
			// Absent (Feast wrote a subset), or not a Value: Feast would fail
			// on the latter; a missing feature is null.
			if a != nil {
				return nil, bad(feastValues+"."+f.Name, fmt.Errorf("not binary"))
			}
			r.Values[i].Null = true
			continue
		}
		if r.Values[i], err = feast.DecodeValue(f.Type, b.Value); err != nil {
			return nil, bad(feastValues+"."+f.Name, err)
		}
	}
	return r, nil
}

// parseEventTS reads Feast's event_ts, Python's str() of a datetime with a
// UTC offset ("2006-01-02 15:04:05[.ffffff]+00:00"), into Unix ms.
func parseEventTS(s string) (int64, error) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999-07:00", "2006-01-02T15:04:05.999999-07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixMilli(), nil
		}
	}
	return 0, fmt.Errorf("event_ts %q is not a datetime", s)
}
