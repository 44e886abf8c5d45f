// Package feast writes the byte layouts a Feast feature server reads from its
// online stores, so shardflow rows are visible to Feast under the same project
// and feature view. Checked against feast-dev/feast commit
// f0bc0700be7029166e6605e407de6d229cd1e93e (2026-08-21), files
// sdk/python/feast/infra/key_encoding_utils.py, online_stores/{helpers,redis,
// dynamodb,sqlite}.py, feast/type_map.py, protos/feast/types/{Value,EntityKey}.proto.
//
// Entity key (serialize_entity_key, version 3): uint32le(number of keys), then
// every join key as uint32le(2 = ValueType.STRING) | uint32le(UTF-8 byte
// length) | key bytes, then every value as uint32le(ValueType) |
// uint32le(byte length) | value bytes. Several keys are sorted by name first;
// this package writes one string join key only, so: 1 | 2 | len k | k | 2 |
// len v | v.
//
// Values (Value.proto oneof val): Int64 -> int64_val (field 4), Float64 ->
// double_val (5), String -> string_val (2), Timestamp -> unix_timestamp_val
// (8) in Unix SECONDS; Feast computes int(datetime.timestamp()), so
// milliseconds are truncated toward zero. Null -> the empty Value (what
// Feast's type_map writes for None); null_val (19, enum Null) also decodes as
// null. Event times are google.protobuf.Timestamp {seconds=1, nanos=2}, nanos
// never negative.
//
// Redis (redis.py, helpers.py): one hash per entity, key EntityKey bytes
// followed by the project's UTF-8 bytes; feature field _mmh3("<view>:<feature>")
// = mmh3.hash(s, seed 0, unsigned) i.e. MurmurHash3 x86_32 of the UTF-8
// string, as 4 little-endian bytes -> Value bytes; field "_ts:<view>" ->
// Timestamp bytes. EXPIRE only if key_ttl_seconds is set (redisstore keeps
// its own expiry rule for views with a TTL; see its package doc).
//
// DynamoDB (dynamodb.py): table table_name_template.format(project, table_name),
// default "{project}.{table_name}"; item entity_id (S, the hash key) =
// compute_entity_id = mmh3.hash_bytes(EntityKey).hex(), i.e. MurmurHash3
// x64_128 seed 0, h1 then h2 little-endian, 32 hex digits; event_ts (S) =
// str(make_tzaware(ts)): "2006-01-02 15:04:05+00:00", with ".ffffff"
// microseconds when nonzero; values (M of feature name -> B Value bytes).
//
// SQLite (sqlite.py): table compute_table_id = "<project>_<view>", created as
// (entity_key BLOB, feature_name TEXT, value BLOB, value_text TEXT,
// [value_num REAL, only with enable_openai_compatible_store,] vector_value
// BLOB, event_ts timestamp, created_ts timestamp, PRIMARY KEY(entity_key,
// feature_name)); a write upserts ON CONFLICT(entity_key, feature_name) and
// lists vector_value only when vector_enabled. value_text is
// extract_text_and_num: the string itself, Python str() of int64/double, NULL
// otherwise (timestamps, nulls). event_ts/created_ts hold INTEGER Unix seconds:
// Feast's last registered sqlite3 datetime adapter is int(val.timestamp()) of
// the naive-UTC datetime (a naive datetime is read as host local time, so
// this equals Unix seconds only on a UTC host), read back by
// datetime.fromtimestamp.
//
// With registry enable_online_feature_view_versioning, Feast appends
// "_v<N>" to the view name in all three stores; pass that name as view.
package feast

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

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
		b = protowire.AppendVarint(b, uint64(v.Int/1000)) // int(datetime.timestamp()) truncates toward zero
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

// DynamoEventTS is the event_ts attribute of Unix milliseconds: Python's
// str() of the tz-aware UTC datetime.
func DynamoEventTS(ms int64) string {
	t := time.UnixMilli(ms).UTC()
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02 15:04:05+00:00")
	}
	return t.Format("2006-01-02 15:04:05.000000+00:00")
}

// SQLiteTimestamp is the INTEGER Feast stores in event_ts/created_ts for Unix
// milliseconds (whole seconds, truncated toward zero as int() does).
func SQLiteTimestamp(ms int64) int64 { return ms / 1000 }

// SQLiteValueText is the value_text column of v as a feature of type t; ok is
// false where Feast writes NULL.
func SQLiteValueText(t featurestore.Type, v featurestore.Value) (text string, ok bool) {
	if v.Null {
		return "", false
	}
	switch t {
	case featurestore.String:
		return v.Str, true
	case featurestore.Int64:
		return strconv.FormatInt(v.Int, 10), true
	case featurestore.Float64:
		return pyFloatStr(v.Float), true
	}
	return "", false
}

// pyFloatStr is Python's str(float) (repr): shortest round-trip digits,
// positional for decimal exponents -4..15, else d[.ddd]e+XX.
func pyFloatStr(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // e.g. -1.5e+16, 1e-05
	i := strings.IndexByte(e, 'e')
	exp, _ := strconv.Atoi(e[i+1:])
	if exp >= -4 && exp < 16 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.ContainsRune(s, '.') {
			s += ".0"
		}
		return s
	}
	return e // Go already writes a sign and at least two exponent digits, as Python does
}
