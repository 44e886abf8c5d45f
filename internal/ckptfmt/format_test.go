package ckptfmt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/shardflow/shardflow/pipeline"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// sample is a checkpoint that uses every field.
func sample() *pipeline.Checkpoint {
	return &pipeline.Checkpoint{
		ID:          42,
		Job:         "clickstream",
		Fingerprint: "sha256:9f2c",
		Run:         "r-20250314T150926-7f3a",
		Epoch:       3,
		Source:      []byte{0, 'g', 'e', 'n', 0xff},
		Created:     time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC),
		Watermark:   1741964966000,
		Shards: map[string]pipeline.ShardState{
			"shardId-000000000000": {Position: pipeline.Position{Seq: "49590338271490256608559692538361571095921575989136588898", N: 3}, Finished: true, MaxEventTime: 1741964960000},
			"shardId-000000000001": {Position: pipeline.Position{Seq: "49590338271490256608559692538361571095921575989136588899"}, Parents: []string{"shardId-000000000000"}, MaxEventTime: 1741964966000, Arrival: 1741964966123, Keyed: []byte{'S', 'F', 0, 0xff},
				Local: map[string][]byte{"dedupe(event_id, ts, 10m0s)": {1, 0x80, 0, 0xff}, "b-stage": {}}},
			"shardId-000000000002": {MaxEventTime: pipeline.MinTime},
			"file:events.jsonl":    {Position: pipeline.OffsetPosition(1 << 40)},
		},
		Operators: map[string][]byte{"window(tumbling 1m)": {0, 1, 2, 0xff, 0xfe}},
		Sinks:     map[string][]byte{"parquet": []byte(`{"staged":["a.parquet"]}`), "dead_letters": []byte("x")},
	}
}

// sampleV4 is sample as testdata/v4.golden holds it: version 4 has no
// shard-local operator state.
func sampleV4() *pipeline.Checkpoint {
	cp := sample()
	for id, s := range cp.Shards {
		s.Local = nil
		cp.Shards[id] = s
	}
	return cp
}

// sampleV3 is sample as testdata/v3.golden holds it: version 3 also has no
// arrival times.
func sampleV3() *pipeline.Checkpoint {
	cp := sampleV4()
	for id, s := range cp.Shards {
		s.Arrival = 0
		cp.Shards[id] = s
	}
	return cp
}

// sampleV2 is sample as testdata/v2.golden holds it: version 2 also has no
// keyed state per shard.
func sampleV2() *pipeline.Checkpoint {
	cp := sampleV3()
	for id, s := range cp.Shards {
		s.Keyed = nil
		cp.Shards[id] = s
	}
	return cp
}

// sampleV1 is sample as testdata/v1.golden holds it: version 1 also has no
// Run, Epoch or Source.
func sampleV1() *pipeline.Checkpoint {
	cp := sampleV2()
	cp.Run, cp.Epoch, cp.Source = "", 0, nil
	return cp
}

// normalize returns cp as Decode(Encode(cp)) returns it (see the package doc).
func normalize(cp *pipeline.Checkpoint) *pipeline.Checkpoint {
	out := *cp
	if len(cp.Source) == 0 {
		out.Source = nil
	}
	out.Created = time.Unix(cp.Created.Unix(), int64(cp.Created.Nanosecond())).UTC()
	out.Shards = make(map[string]pipeline.ShardState, len(cp.Shards))
	for k, s := range cp.Shards {
		if len(s.Parents) == 0 {
			s.Parents = nil
		}
		if len(s.Keyed) == 0 {
			s.Keyed = nil
		}
		if len(s.Local) == 0 {
			s.Local = nil
		} else {
			local := make(map[string][]byte, len(s.Local))
			for name, b := range s.Local {
				if len(b) == 0 {
					b = nil
				}
				local[name] = b
			}
			s.Local = local
		}
		out.Shards[k] = s
	}
	blobs := func(m map[string][]byte) map[string][]byte {
		o := make(map[string][]byte, len(m))
		for k, b := range m {
			if len(b) == 0 {
				b = nil
			}
			o[k] = b
		}
		return o
	}
	out.Operators, out.Sinks = blobs(cp.Operators), blobs(cp.Sinks)
	return &out
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }

func mustEncode(t testing.TB, cp *pipeline.Checkpoint) []byte {
	t.Helper()
	b, err := Encode(cp)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return b
}

// TestCheckpointShape fails when pipeline.Checkpoint gains or loses a field,
// which this format would otherwise drop silently.
func TestCheckpointShape(t *testing.T) {
	for _, tc := range []struct {
		typ    reflect.Type
		fields int
	}{
		{reflect.TypeFor[pipeline.Checkpoint](), 11},
		{reflect.TypeFor[pipeline.ShardState](), 7},
		{reflect.TypeFor[pipeline.Position](), 2},
	} {
		if got := tc.typ.NumField(); got != tc.fields {
			t.Errorf("%v has %d fields, ckptfmt encodes %d: teach Encode/Decode the change and bump Version", tc.typ, got, tc.fields)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		cp   *pipeline.Checkpoint
	}{
		{"sample", sample()},
		{"zero", &pipeline.Checkpoint{}},
		{"empty maps", &pipeline.Checkpoint{Shards: map[string]pipeline.ShardState{}, Operators: map[string][]byte{}, Sinks: map[string][]byte{}}},
		{"empty blobs and parents", &pipeline.Checkpoint{
			Shards:    map[string]pipeline.ShardState{"s": {Parents: []string{}}},
			Operators: map[string][]byte{"op": {}},
			Sinks:     map[string][]byte{"": nil},
		}},
		{"extremes", &pipeline.Checkpoint{
			ID: math.MaxUint64, Watermark: pipeline.MaxTime,
			Created: time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.FixedZone("x", -3600)),
			Shards:  map[string]pipeline.ShardState{"\xff\x00not utf-8": {Position: pipeline.Position{Seq: "\x00", N: math.MinInt64}, MaxEventTime: math.MaxInt64}},
		}},
		{"local time with monotonic reading", &pipeline.Checkpoint{Created: time.Now()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := mustEncode(t, tc.cp)
			got, err := Decode(data)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if want := normalize(tc.cp); !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip:\n got %#v\nwant %#v", got, want)
			}
			if !got.Created.Equal(tc.cp.Created) {
				t.Errorf("Created %v, want the instant %v", got.Created, tc.cp.Created)
			}
			if again := mustEncode(t, got); !bytes.Equal(again, data) {
				t.Errorf("re-encoding the decoded checkpoint changed the bytes")
			}
		})
	}
}

// randomCheckpoint draws a checkpoint with arbitrary bytes in its strings,
// nil and empty collections, and occasionally a large blob.
func randomCheckpoint(r *rand.Rand) *pipeline.Checkpoint {
	str := func() string {
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return string(b)
	}
	i64 := func() int64 {
		switch r.IntN(4) {
		case 0:
			return pipeline.MinTime
		case 1:
			return pipeline.MaxTime
		}
		return r.Int64() - r.Int64()
	}
	cp := &pipeline.Checkpoint{
		ID: r.Uint64(), Job: str(), Fingerprint: str(), Run: str(), Epoch: r.Uint64() >> r.IntN(64), Watermark: i64(),
		Created: time.Unix(r.Int64N(1<<40)-1<<39, r.Int64N(1e9)),
	}
	switch r.IntN(3) {
	case 0:
		cp.Source = []byte(str())
	case 1:
		cp.Source = []byte{}
	}
	if r.IntN(4) > 0 {
		cp.Shards = map[string]pipeline.ShardState{}
		for range r.IntN(20) {
			s := pipeline.ShardState{Position: pipeline.Position{Seq: str(), N: i64()}, Finished: r.IntN(2) == 0, MaxEventTime: i64()}
			for range r.IntN(3) {
				s.Parents = append(s.Parents, str())
			}
			switch r.IntN(3) {
			case 0:
				s.Local = map[string][]byte{}
				for range r.IntN(3) {
					s.Local[str()] = []byte(str())
				}
			case 1:
				s.Keyed = []byte(str())
			}
			cp.Shards[str()] = s
		}
	}
	blobs := func() map[string][]byte {
		if r.IntN(4) == 0 {
			return nil
		}
		m := map[string][]byte{}
		for range r.IntN(4) {
			if r.IntN(20) == 0 { // large: a pattern, cheap to make
				m[str()] = bytes.Repeat([]byte{byte(r.Uint32()), 0, 0xff}, 100_000)
				continue
			}
			b := make([]byte, r.IntN(64))
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			m[str()] = b
		}
		return m
	}
	cp.Operators, cp.Sinks = blobs(), blobs()
	return cp
}

// TestRoundTripProperty: Decode(Encode(cp)) == normalize(cp) and the encoding
// is deterministic, for many random checkpoints.
func TestRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		cp := randomCheckpoint(r)
		data := mustEncode(t, cp)
		got, err := Decode(data)
		if err != nil {
			t.Fatalf("case %d: Decode: %v", i, err)
		}
		if want := normalize(cp); !reflect.DeepEqual(got, want) {
			t.Fatalf("case %d: round trip:\n got %#v\nwant %#v", i, got, want)
		}
		if again := mustEncode(t, cp); !bytes.Equal(again, data) {
			t.Fatalf("case %d: encoding is not deterministic", i)
		}
	}
}

// TestGolden pins the current version's bytes: a build must keep reading checkpoints
// that earlier builds wrote. Run with -update only for a new Version.
func TestGolden(t *testing.T) {
	path := filepath.Join("testdata", "v5.golden")
	data := mustEncode(t, sample())
	if *update {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, golden) {
		t.Errorf("Encode(sample) differs from %s: the version-5 format changed", path)
	}
	got, err := Decode(golden)
	if err != nil {
		t.Fatalf("Decode(%s): %v", path, err)
	}
	if want := normalize(sample()); !reflect.DeepEqual(got, want) {
		t.Errorf("Decode(%s):\n got %#v\nwant %#v", path, got, want)
	}
}

// TestGoldenV1: checkpoints that version-1 builds wrote still decode, with
// an empty Run and Source and epoch 0, and re-encode as the current version.
// The file is never rewritten: no build writes version 1 any more.
func TestGoldenV1(t *testing.T) { checkOldGolden(t, 1, sampleV1()) }

// TestGoldenV2: checkpoints that version-2 builds wrote still decode, without
// keyed state per shard, and re-encode as the current version. The file is
// never rewritten: no build writes version 2 any more.
func TestGoldenV2(t *testing.T) { checkOldGolden(t, 2, sampleV2()) }

// TestGoldenV3: checkpoints that version-3 builds wrote still decode, without
// arrival times, and re-encode as the current version. The file is never
// rewritten: no build writes version 3 any more.
func TestGoldenV3(t *testing.T) { checkOldGolden(t, 3, sampleV3()) }

// TestGoldenV4: checkpoints that version-4 builds wrote still decode, without
// shard-local operator state, and re-encode as the current version. The file
// is never rewritten: no build writes version 4 any more.
func TestGoldenV4(t *testing.T) { checkOldGolden(t, 4, sampleV4()) }

// checkOldGolden checks that testdata/v<version>.golden, which a build of
// that version wrote, decodes to want and re-encodes as the current version.
func checkOldGolden(t *testing.T, version uint16, want *pipeline.Checkpoint) {
	t.Helper()
	path := filepath.Join("testdata", fmt.Sprintf("v%d.golden", version))
	golden, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if v := binary.BigEndian.Uint16(golden[4:]); v != version {
		t.Fatalf("%s holds version %d", path, v)
	}
	got, err := Decode(golden)
	if err != nil {
		t.Fatalf("Decode(%s): %v", path, err)
	}
	if want := normalize(want); !reflect.DeepEqual(got, want) {
		t.Errorf("Decode(%s):\n got %#v\nwant %#v", path, got, want)
	}
	again := mustEncode(t, got)
	if v := binary.BigEndian.Uint16(again[4:]); v != Version {
		t.Errorf("re-encoded as version %d, want %d", v, Version)
	}
	if back, err := Decode(again); err != nil || !reflect.DeepEqual(back, got) {
		t.Errorf("re-encoded v%d checkpoint decodes to %#v, %v", version, back, err)
	}
}

// head returns the start of a hand-made payload of the given version: id 1,
// empty job and fingerprint (and, from version 2, empty run, epoch 0, empty
// source), created 0.0, watermark 0.
func head(version uint16) []byte {
	if version == 1 {
		return []byte{1, 0, 0, 0, 0, 0}
	}
	return []byte{1, 0, 0, 0, 0, 0, 0, 0, 0}
}

// reframe wraps payload in a valid header and checksum, so tests can reach
// the payload parser with hand-made payloads.
func reframe(version uint16, payload []byte) []byte {
	b := []byte(magic)
	b = binary.BigEndian.AppendUint16(b, version)
	b = binary.BigEndian.AppendUint64(b, uint64(len(payload)))
	b = append(b, payload...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func TestDecodeErrors(t *testing.T) {
	valid := mustEncode(t, sample())
	payload := valid[headerLen : len(valid)-trailerLen]
	flip := func(i int) []byte {
		b := bytes.Clone(valid)
		b[i] ^= 0x10
		return b
	}
	withLen := func(n uint64) []byte {
		b := bytes.Clone(valid)
		binary.BigEndian.PutUint64(b[6:], n)
		return b
	}
	// A payload that ends after the shard count, which announces 2^60 shards.
	hugeCount := binary.AppendUvarint(head(Version), 1<<60)
	hugeString := binary.AppendUvarint([]byte{1}, math.MaxInt64) // id, then a job of 2^63-1 bytes
	// Version 2's fields: a run of 2^63-1 bytes, a bad epoch varint, a source
	// longer than what remains.
	hugeRun := binary.AppendUvarint([]byte{1, 0, 0}, math.MaxInt64)
	badEpoch := []byte{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}
	hugeSource := []byte{1, 0, 0, 0, 0, 5, 'a'}
	v1 := goldenV1(t)

	tests := []struct {
		name    string
		data    []byte
		want    error
		message string // a substring of the error text
	}{
		{"nil", nil, ErrTruncated, "ckptfmt: truncated input"},
		{"short header", valid[:headerLen-1], ErrTruncated, "header"},
		{"header only", valid[:headerLen], ErrTruncated, "ckptfmt: truncated input"},
		{"missing checksum", valid[:len(valid)-trailerLen], ErrTruncated, "ckptfmt: truncated input"},
		{"one byte short", valid[:len(valid)-1], ErrTruncated, "ckptfmt: truncated input"},
		{"half", valid[:len(valid)/2], ErrTruncated, "ckptfmt: truncated input"},
		{"not a checkpoint", []byte("PAR1 this is parquet"), ErrBadMagic, "ckptfmt: bad magic"},
		{"short garbage", []byte("{"), ErrBadMagic, "ckptfmt: bad magic"},
		{"magic bit flip", flip(0), ErrBadMagic, "ckptfmt: bad magic"},
		{"version 7", reframe(7, payload), ErrUnsupportedVersion, "ckptfmt: format version 7, written by a newer shardflow; upgrade (this build reads versions 1 to 5)"},
		{"version 6", reframe(6, payload), ErrUnsupportedVersion, "written by a newer shardflow; upgrade"},
		{"version 0", reframe(0, payload), ErrUnsupportedVersion, "ckptfmt: unsupported version 0 (this build reads versions 1 to 5)"},
		{"v2 payload as version 1", reframe(1, payload), ErrMalformed, "ckptfmt: malformed payload"},
		{"v1 payload as version 2", reframe(2, v1[headerLen:len(v1)-trailerLen]), ErrMalformed, "ckptfmt: malformed payload"},
		{"v1 bit flip", func() []byte { b := bytes.Clone(v1); b[headerLen+2] ^= 1; return b }(), ErrChecksum, "checksum mismatch"},
		{"2^63 byte run", reframe(Version, hugeRun), ErrMalformed, "run of 9223372036854775807 bytes"},
		{"bad epoch", reframe(Version, badEpoch), ErrMalformed, "bad varint for epoch"},
		{"source too long", reframe(Version, hugeSource), ErrMalformed, "source of 5 bytes, only 1 remain"},
		{"huge payload length", withLen(math.MaxUint64), ErrTruncated, "announces 18446744073709551615"},
		{"payload length one short", withLen(uint64(len(payload) - 1)), ErrMalformed, "1 bytes after the checksum"},
		{"trailing byte", append(bytes.Clone(valid), 0), ErrMalformed, "after the checksum"},
		{"payload bit flip", flip(headerLen + 5), ErrChecksum, "ckptfmt: checksum mismatch: stored"},
		{"checksum bit flip", flip(len(valid) - 1), ErrChecksum, "ckptfmt: checksum mismatch"},
		{"empty payload", reframe(Version, nil), ErrMalformed, "bad varint for id"},
		{"payload with extra byte", reframe(Version, append(bytes.Clone(payload), 0)), ErrMalformed, "1 bytes after the last field"},
		{"payload cut short", reframe(Version, payload[:len(payload)-1]), ErrMalformed, "ckptfmt: malformed payload"},
		{"2^60 shards", reframe(Version, hugeCount), ErrMalformed, "cannot fit"},
		{"2^63 byte job", reframe(Version, hugeString), ErrMalformed, "only 0 remain"},
		{"nanoseconds out of range", reframe(Version, binary.AppendUvarint(head(Version)[:7], 1e9)), ErrMalformed, "nanoseconds 1000000000 out of range"},
		{"v1 nanoseconds out of range", reframe(1, binary.AppendUvarint([]byte{1, 0, 0, 0}, 1e9)), ErrMalformed, "nanoseconds 1000000000 out of range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cp, err := Decode(tc.data)
			if err == nil {
				t.Fatalf("Decode succeeded: %+v", cp)
			}
			if cp != nil {
				t.Errorf("Decode returned a checkpoint with error %v", err)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("error %q is not %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q does not contain %q", err, tc.message)
			}
		})
	}
}

func TestVersionError(t *testing.T) {
	_, err := Decode(reframe(7, nil))
	var ve *VersionError
	if !errors.As(err, &ve) || ve.Got != 7 {
		t.Fatalf("errors.As(%v, *VersionError) = %v, %+v", err, errors.As(err, &ve), ve)
	}
}

// TestDuplicateKeys: the decoder rejects a map key that appears twice, which
// Encode never writes, instead of silently keeping one of the two values.
func TestDuplicateKeys(t *testing.T) {
	blob := []byte{1, 'k', 1, 'v'}
	for _, v := range []uint16{1, 2, 3, 4, Version} {
		head := head(v)
		shard := []byte{1, 's', 0, 0, 0, 0, 0}
		if v >= 4 {
			shard = append(shard, 0) // arrival 0
		}
		if v >= 3 {
			shard = append(shard, 0) // no keyed state
		}
		var local []byte // the shard, whose last field is the local states, without that field
		if v >= 5 {
			local = bytes.Clone(shard)
			shard = append(shard, 0) // no local state
		}
		tests := []struct {
			name    string
			payload []byte
		}{
			{"shard", concat(head, []byte{2}, shard, shard, []byte{0, 0})},
			{"operator", concat(head, []byte{0, 2}, blob, blob, []byte{0})},
			{"sink", concat(head, []byte{0, 0, 2}, blob, blob)},
		}
		if local != nil {
			tests = append(tests, struct {
				name    string
				payload []byte
			}{"local state", concat(head, []byte{1}, local, []byte{2}, blob, blob, []byte{0, 0})})
		}
		for _, tc := range tests {
			t.Run(fmt.Sprintf("v%d %s", v, tc.name), func(t *testing.T) {
				_, err := Decode(reframe(v, tc.payload))
				if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "twice") {
					t.Fatalf("Decode = %v, want a duplicate-key error", err)
				}
			})
		}
		// The same payloads with one copy are valid, so the test above checks
		// what it claims to.
		if _, err := Decode(reframe(v, concat(head, []byte{1}, shard, []byte{1}, blob, []byte{0}))); err != nil {
			t.Fatalf("v%d: Decode of the single-key payload: %v", v, err)
		}
		if local != nil {
			cp, err := Decode(reframe(v, concat(head, []byte{1}, local, []byte{1}, blob, []byte{0, 0})))
			if err != nil || string(cp.Shards["s"].Local["k"]) != "v" {
				t.Fatalf("v%d: Decode of the single local state: %+v, %v", v, cp, err)
			}
		}
	}
}

func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// goldenV1 returns testdata/v1.golden, what version-1 builds wrote for
// sampleV1().
func goldenV1(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "v1.golden"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEncodeNil(t *testing.T) {
	if _, err := Encode(nil); err == nil {
		t.Fatal("Encode(nil) succeeded")
	}
}

// TestHostileInputAllocation: inputs that announce huge lengths and counts
// are refused without allocating for what they announce.
func TestHostileInputAllocation(t *testing.T) {
	inputs := [][]byte{
		reframe(1, binary.AppendUvarint(head(1), 1<<62)),                                                                      // shards
		reframe(Version, binary.AppendUvarint(head(Version), 1<<62)),                                                          // shards
		reframe(Version, binary.AppendUvarint(append(head(Version), 0), 1<<62)),                                               // operator states
		reframe(Version, append(binary.AppendUvarint(concat(head(Version), []byte{1, 0, 0, 0, 0}), 50), make([]byte, 10)...)), // parents
		reframe(Version, binary.AppendUvarint([]byte{1}, 1<<62)),                                                              // job length
		reframe(Version, binary.AppendUvarint([]byte{1, 0, 0, 0, 0}, 1<<62)),                                                  // source length
	}
	for i, in := range inputs {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 100 {
			if _, err := Decode(in); !errors.Is(err, ErrMalformed) {
				t.Fatalf("input %d: Decode = %v, want ErrMalformed", i, err)
			}
		}
		runtime.ReadMemStats(&after)
		if perCall := (after.TotalAlloc - before.TotalAlloc) / 100; perCall > 4096 {
			t.Errorf("input %d of %d bytes: Decode allocated %d bytes per call", i, len(in), perCall)
		}
	}
}
