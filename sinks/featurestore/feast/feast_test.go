package feast

import (
	"encoding/hex"
	"math"
	"strings"
	"testing"

	"github.com/twmb/murmur3"

	fs "github.com/shardflow/shardflow/sinks/featurestore"
)

// All hex vectors below were computed with Debian python3 independently of
// this package: struct.pack for entity keys and fixed64, a hand-written
// protobuf varint, and a hand-written murmur3_32 (checked against the known
// murmur3_32("hello", 0) = 0x248bfa47), e.g.
//   python3 -c 'import struct;print((struct.pack("<I",1)+struct.pack("<II",2,7)+b"user_id"+struct.pack("<II",2,2)+b"u1").hex())'
//   python3 -c 'import struct;print((b"\x29"+struct.pack("<d",-1.5)).hex())'
// DynamoDB entity ids: a hand-written MurmurHash3 x64_128 (Appleby's
// reference algorithm) in python3, which reproduces mmh3's published README
// outputs for "foo" (TestMurmurAnchors), printing struct.pack("<QQ",h1,h2).hex()
// of the struct.pack-built entity key. event_ts and value_text: python3
// str(datetime(1970,1,1,tzinfo=timezone.utc)+timedelta(milliseconds=ms)) and
// str(float) / str(int).

func h(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEntityKey(t *testing.T) {
	for _, c := range []struct{ k, v, want string }{
		{"user_id", "u1", "010000000200000007000000757365725f696402000000020000007531"},
		{"user", "é日", "010000000200000004000000757365720200000005000000c3a9e697a5"},
	} {
		if got := hex.EncodeToString(EntityKey(c.k, c.v)); got != c.want {
			t.Errorf("EntityKey(%q,%q) = %s, want %s", c.k, c.v, got, c.want)
		}
	}
}

func TestValues(t *testing.T) {
	for _, c := range []struct {
		t    fs.Type
		v    fs.Value
		want string
	}{
		{fs.Int64, fs.Value{Int: -5}, "20fbffffffffffffffff01"},
		{fs.Int64, fs.Value{Int: 300}, "20ac02"},
		{fs.Float64, fs.Value{Float: -1.5}, "29000000000000f8bf"},
		{fs.String, fs.Value{Str: "é日"}, "1205c3a9e697a5"},
		{fs.Timestamp, fs.Value{Int: 1700000000000}, "4080e2cfaa06"},
		{fs.Timestamp, fs.Value{Int: -2000}, "40feffffffffffffffff01"},
		{fs.Int64, fs.Value{Null: true}, ""},
		{fs.String, fs.Value{Null: true}, ""},
	} {
		b := EncodeValue(c.t, c.v)
		if got := hex.EncodeToString(b); got != c.want {
			t.Errorf("EncodeValue(%v,%+v) = %s, want %s", c.t, c.v, got, c.want)
		}
		back, err := DecodeValue(c.t, h(t, c.want))
		if err != nil || back != c.v {
			t.Errorf("DecodeValue(%v,%s) = %+v, %v; want %+v", c.t, c.want, back, err, c.v)
		}
	}
	// Feast stores int(datetime.timestamp()): -1.5 s -> -1, not floor's -2.
	if got := hex.EncodeToString(EncodeValue(fs.Timestamp, fs.Value{Int: -1500})); got != "40ffffffffffffffffff01" {
		t.Errorf("EncodeValue(Timestamp,-1500ms) = %s, want unix_timestamp_val=-1", got)
	}
	if got := hex.EncodeToString(EncodeValue(fs.Timestamp, fs.Value{Int: 1999})); got != "4001" {
		t.Errorf("EncodeValue(Timestamp,1999ms) = %s, want unix_timestamp_val=1", got)
	}
	// null_val (field 19, varint enum NULL=0) is null as well.
	if v, err := DecodeValue(fs.Int64, h(t, "980100")); err != nil || !v.Null {
		t.Errorf("DecodeValue(null_val) = %+v, %v; want null", v, err)
	}
	if _, err := DecodeValue(fs.String, h(t, "20ac02")); err == nil {
		t.Error("DecodeValue accepted int64_val as a String")
	}
	if _, err := DecodeValue(fs.Int64, h(t, "20")); err == nil {
		t.Error("DecodeValue accepted a truncated value")
	}
}

func TestTimestamp(t *testing.T) {
	for _, c := range []struct {
		ms   int64
		want string
	}{
		{1700000000123, "0880e2cfaa0610c0a9d33a"},
		{-1001, "08feffffffffffffffff0110c08faedc03"}, // seconds=-2, nanos=999000000
		{0, ""},
	} {
		if got := hex.EncodeToString(EncodeTimestamp(c.ms)); got != c.want {
			t.Errorf("EncodeTimestamp(%d) = %s, want %s", c.ms, got, c.want)
		}
		if back, err := DecodeTimestamp(h(t, c.want)); err != nil || back != c.ms {
			t.Errorf("DecodeTimestamp(%s) = %d, %v; want %d", c.want, back, err, c.ms)
		}
	}
}

func TestNames(t *testing.T) {
	for _, c := range []struct{ view, feat, want string }{
		{"user_stats", "clicks", "9f7bfa51"},
		{"v", "é", "da00bd27"},
	} {
		if got := hex.EncodeToString(RedisField(c.view, c.feat)); got != c.want {
			t.Errorf("RedisField(%q,%q) = %s, want %s", c.view, c.feat, got, c.want)
		}
	}
	ek := EntityKey("user_id", "u1")
	if got, want := string(RedisKey("proj", ek)), string(ek)+"proj"; got != want {
		t.Errorf("RedisKey = %q", got)
	}
	if RedisTimestampField("v") != "_ts:v" || DynamoTableName("p", "v") != "p.v" || SQLiteTableName("p", "v") != "p_v" {
		t.Error("names")
	}
	if id := DynamoEntityID(ek); len(id) != 32 || id == DynamoEntityID(EntityKey("user_id", "u2")) {
		t.Errorf("DynamoEntityID = %q", id)
	}
}

// Outputs published in the mmh3 README (the library Feast's helpers.py uses):
// mmh3.hash("foo", signed=False) = 4138058784 and
// mmh3.hash64("foo", signed=False) = (16316970633193145697, 9128664383759220103),
// whose little-endian bytes are mmh3.hash_bytes("foo").
func TestMurmurAnchors(t *testing.T) {
	if got := murmur3.Sum32([]byte("foo")); got != 4138058784 {
		t.Errorf("Sum32(foo) = %d", got)
	}
	if h1, h2 := murmur3.Sum128([]byte("foo")); h1 != 16316970633193145697 || h2 != 9128664383759220103 {
		t.Errorf("Sum128(foo) = %d, %d", h1, h2)
	}
}

func TestDynamo(t *testing.T) {
	for _, c := range []struct{ v, want string }{
		{"u1", "043fa1fb6c163777379302ef726d3098"},
		{strings.Repeat("x", 32), "a0a73f20c479aad9a4ba33919f01cb84"}, // 59-byte key: 3 blocks + 11-byte tail
	} {
		if got := DynamoEntityID(EntityKey("user_id", c.v)); got != c.want {
			t.Errorf("DynamoEntityID(user_id=%s) = %s, want %s", c.v, got, c.want)
		}
	}
	for _, c := range []struct {
		ms   int64
		want string
	}{
		{1700000000123, "2023-11-14 22:13:20.123000+00:00"},
		{1700000000000, "2023-11-14 22:13:20+00:00"},
		{-1500, "1969-12-31 23:59:58.500000+00:00"},
		{0, "1970-01-01 00:00:00+00:00"},
	} {
		if got := DynamoEventTS(c.ms); got != c.want {
			t.Errorf("DynamoEventTS(%d) = %q, want %q", c.ms, got, c.want)
		}
	}
}

func TestSQLite(t *testing.T) {
	if SQLiteTimestamp(1700000000123) != 1700000000 || SQLiteTimestamp(-1500) != -1 {
		t.Error("SQLiteTimestamp")
	}
	for _, c := range []struct {
		t    fs.Type
		v    fs.Value
		want string
		ok   bool
	}{
		{fs.String, fs.Value{Str: "é日"}, "é日", true},
		{fs.Int64, fs.Value{Int: -5}, "-5", true},
		{fs.Float64, fs.Value{Float: 1.0}, "1.0", true},
		{fs.Float64, fs.Value{Float: -1.5}, "-1.5", true},
		{fs.Float64, fs.Value{Float: 1e16}, "1e+16", true},
		{fs.Float64, fs.Value{Float: 1.5e16}, "1.5e+16", true},
		{fs.Float64, fs.Value{Float: 1e-5}, "1e-05", true},
		{fs.Float64, fs.Value{Float: 0.0001}, "0.0001", true},
		{fs.Float64, fs.Value{Float: 123456789.125}, "123456789.125", true},
		{fs.Float64, fs.Value{Float: 0.1}, "0.1", true},
		{fs.Float64, fs.Value{Float: math.Copysign(0, -1)}, "-0.0", true},
		{fs.Timestamp, fs.Value{Int: 1000}, "", false},
		{fs.String, fs.Value{Null: true}, "", false},
	} {
		got, ok := SQLiteValueText(c.t, c.v)
		if got != c.want || ok != c.ok {
			t.Errorf("SQLiteValueText(%v,%+v) = %q,%v; want %q,%v", c.t, c.v, got, ok, c.want, c.ok)
		}
	}
}
