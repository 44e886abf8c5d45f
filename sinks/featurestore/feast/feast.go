// Package feast writes the byte layouts a Feast feature server reads from its
// online stores, so shardflow rows are visible to Feast under the same project
// and feature view. Layouts follow feast-dev/feast sdk/python/feast/infra.
//
// Entity key (key_encoding_utils.py serialize_entity_key, version 3), one
// string join key: uint32le(1 key) | uint32le(2 = ValueType.STRING) |
// uint32le(len key) | key | uint32le(2 = STRING) | uint32le(len value) | value.
//
// Values (protos/feast/types/Value.proto): Int64 -> int64_val (field 4),
// Float64 -> double_val (5), String -> string_val (2), Timestamp ->
// unix_timestamp_val (8) in Unix SECONDS (Feast's unit; milliseconds are
// truncated toward negative infinity), Null -> empty Value. Event times are
// google.protobuf.Timestamp {seconds=1, nanos=2}.
//
// Redis (online_stores/redis.py): one hash per entity, key
// EntityKey||project; field murmur3_32(seed 0, "<view>:<feature>") as 4
// little-endian bytes -> Value bytes; field "_ts:<view>" -> Timestamp bytes.
//
// DynamoDB (online_stores/dynamodb.py): table "<project>.<view>" (default
// table_name_template "{project}.{table_name}"); item attributes entity_id (S,
// hex of mmh3.hash_bytes = murmur3 x64_128 seed 0, h1 then h2 little-endian,
// of EntityKey; the hash key), event_ts (S, Python str() of a tz-aware UTC
// datetime: "2006-01-02 15:04:05+00:00", or with ".000123" microseconds when
// nonzero), values (M of feature name -> B Value bytes).
//
// SQLite (online_stores/sqlite.py): table "<project>_<view>" with columns
// entity_key BLOB (EntityKey), feature_name TEXT, value BLOB (Value bytes),
// vector_value BLOB, event_ts timestamp, created_ts timestamp, PRIMARY
// KEY(entity_key, feature_name); timestamps as naive UTC
// "2006-01-02 15:04:05[.ffffff]" (Python's sqlite3 datetime adapter).
package feast

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"

	"github.com/shardflow/shardflow/sinks/featurestore"
	"github.com/twmb/murmur3"
	"google.golang.org/protobuf/encoding/protowire"
)

const valueTypeString = 2 // feast.types.ValueType.STRING

// EntityKey is Feast's serialized entity key (entity key serialization version 3) of one string join key.
func EntityKey(joinKey, value string) []byte {
	b := make([]byte, 0, 20+len(joinKey)+len(value))
	b = binary.LittleEndian.AppendUint32(b, 1)
	b = binary.LittleEndian.AppendUint32(b, valueTypeString)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(joinKey)))
	b = append(b, joinKey...)
	b = binary.LittleEndian.AppendUint32(b, valueTypeString)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(value)))
	return append(b, value...)
}

// Value.proto field numbers.
const (
	fieldString protowire.Number = 2
	fieldInt64  protowire.Number = 4
	fieldDouble protowire.Number = 5
	fieldUnixTS protowire.Number = 8
)

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// EncodeValue is the feast.types.Value protobuf of v as a feature of type t.
func EncodeValue(t featurestore.Type, v featurestore.Value) []byte {
	if v.Null {
		return []byte{}
	}
	var b []byte
	switch t {
	case featurestore.Int64:
		b = protowire.AppendTag(b, fieldInt64, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(v.Int))
	case featurestore.Float64:
		b = protowire.AppendTag(b, fieldDouble, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(v.Float))
	case featurestore.String:
		b = protowire.AppendTag(b, fieldString, protowire.BytesType)
		b = protowire.AppendString(b, v.Str)
	case featurestore.Timestamp:
		b = protowire.AppendTag(b, fieldUnixTS, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(floorDiv(v.Int, 1000)))
	default:
		panic(fmt.Sprintf("feast: unknown type %d", t))
	}
	return b
}

// DecodeValue inverts EncodeValue (Timestamp values come back in whole seconds, as ms).
func DecodeValue(t featurestore.Type, b []byte) (featurestore.Value, error) {
	var v featurestore.Value
	set := false
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return v, protowire.ParseError(n)
		}
		b = b[n:]
		want := protowire.Number(0)
		switch t {
		case featurestore.Int64:
			want = fieldInt64
		case featurestore.Float64:
			want = fieldDouble
		case featurestore.String:
			want = fieldString
		case featurestore.Timestamp:
			want = fieldUnixTS
		}
		if num == want {
			switch {
			case typ == protowire.VarintType && (t == featurestore.Int64 || t == featurestore.Timestamp):
				x, m := protowire.ConsumeVarint(b)
				if m < 0 {
					return v, protowire.ParseError(m)
				}
				b = b[m:]
				v = featurestore.Value{Int: int64(x)}
				if t == featurestore.Timestamp {
					v.Int *= 1000
				}
				set = true
				continue
			case typ == protowire.Fixed64Type && t == featurestore.Float64:
				x, m := protowire.ConsumeFixed64(b)
				if m < 0 {
					return v, protowire.ParseError(m)
				}
				b = b[m:]
				v = featurestore.Value{Float: math.Float64frombits(x)}
				set = true
				continue
			case typ == protowire.BytesType && t == featurestore.String:
				s, m := protowire.ConsumeString(b)
				if m < 0 {
					return v, protowire.ParseError(m)
				}
				b = b[m:]
				v = featurestore.Value{Str: s}
				set = true
				continue
			}
			return v, fmt.Errorf("feast: field %d has wire type %d", num, typ)
		}
		if num == 19 || num == 0 { // null_val, or nothing
		} else if num <= 18 {
			return v, fmt.Errorf("feast: value field %d is not a %v", num, t)
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return v, protowire.ParseError(m)
		}
		b = b[m:]
	}
	if !set {
		return featurestore.Value{Null: true}, nil
	}
	return v, nil
}

// EncodeTimestamp is the google.protobuf.Timestamp bytes of Unix milliseconds.
func EncodeTimestamp(ms int64) []byte {
	sec := floorDiv(ms, 1000)
	nanos := (ms - sec*1000) * 1e6
	var b []byte
	if sec != 0 {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(sec))
	}
	if nanos != 0 {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int32(nanos)))
	}
	if b == nil {
		b = []byte{}
	}
	return b
}

// DecodeTimestamp inverts EncodeTimestamp (sub-millisecond nanos are truncated).
func DecodeTimestamp(b []byte) (int64, error) {
	var sec, nanos int64
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, protowire.ParseError(n)
		}
		b = b[n:]
		if (num == 1 || num == 2) && typ == protowire.VarintType {
			x, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return 0, protowire.ParseError(m)
			}
			b = b[m:]
			if num == 1 {
				sec = int64(x)
			} else {
				nanos = int64(int32(x))
			}
			continue
		}
		if num == 1 || num == 2 {
			return 0, errors.New("feast: bad timestamp wire type")
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return 0, protowire.ParseError(m)
		}
		b = b[m:]
	}
	return sec*1000 + nanos/1e6, nil
}

// RedisKey is the hash key of an entity in a project: EntityKey bytes then the project.
func RedisKey(project string, entityKey []byte) []byte {
	return append(append(make([]byte, 0, len(entityKey)+len(project)), entityKey...), project...)
}

// RedisField is the hash field of a feature of a view: murmur3_32 (seed 0) of
// "<view>:<feature>" as 4 little-endian bytes.
func RedisField(view, feature string) []byte {
	return binary.LittleEndian.AppendUint32(nil, murmur3.Sum32([]byte(view+":"+feature)))
}

// RedisTimestampField is the hash field holding a view's event time.
func RedisTimestampField(view string) string { return "_ts:" + view }

// DynamoTableName is the table Feast reads for a view (default template "{project}.{table_name}").
func DynamoTableName(project, view string) string { return project + "." + view }

// DynamoEntityID is the entity_id attribute: hex of murmur3 x64_128 (seed 0) of the entity key.
func DynamoEntityID(entityKey []byte) string {
	h1, h2 := murmur3.Sum128(entityKey)
	b := binary.LittleEndian.AppendUint64(nil, h1)
	b = binary.LittleEndian.AppendUint64(b, h2)
	return hex.EncodeToString(b)
}

// SQLiteTableName is Feast's table name for a view of a project.
func SQLiteTableName(project, view string) string { return project + "_" + view }
