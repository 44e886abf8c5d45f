package feast

import (
	"encoding/hex"
	"testing"

	fs "github.com/shardflow/shardflow/sinks/featurestore"
)

// All hex vectors below were computed with Debian python3 independently of
// this package: struct.pack for entity keys and fixed64, a hand-written
// protobuf varint, and a hand-written murmur3_32 (checked against the known
// murmur3_32("hello", 0) = 0x248bfa47), e.g.
//   python3 -c 'import struct;print((struct.pack("<I",1)+struct.pack("<II",2,7)+b"user_id"+struct.pack("<II",2,2)+b"u1").hex())'
//   python3 -c 'import struct;print((b"\x29"+struct.pack("<d",-1.5)).hex())'

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
