package ckptfmt

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to Decode, and the same bytes wrapped in a
// valid header and checksum of each version it reads, so the fuzzer also explores the payload parser
// that the checksum would otherwise guard. Decode must not panic, must return
// one of its sentinel errors, and whatever it accepts must re-encode to a
// checkpoint that decodes to the same value.
func FuzzDecode(f *testing.F) {
	valid := mustEncode(f, sample())
	v1 := goldenV1(f)
	for _, seed := range [][]byte{
		valid,
		mustEncode(f, normalize(sample())),
		v1,
		v1[:len(v1)-1],
		v1[headerLen : len(v1)-trailerLen], // a bare version-1 payload: reframed below
		reframe(3, valid[headerLen:len(valid)-trailerLen]),
		reframe(4, valid[headerLen:len(valid)-trailerLen]),
		nil,
		valid[:headerLen],
		valid[:len(valid)/2],
		valid[:len(valid)-1],
		reframe(7, valid[headerLen:len(valid)-trailerLen]),
		valid[headerLen : len(valid)-trailerLen], // a bare payload: reframed below
	} {
		f.Add(seed)
	}
	for seed := range uint64(40) {
		if b := mustEncode(f, randomCheckpoint(newRand(seed))); len(b) < 4096 {
			f.Add(b)
		}
	}
	for _, i := range []int{0, 4, 6, 13, headerLen, headerLen + 3, len(valid) / 2, len(valid) - 1} {
		b := bytes.Clone(valid)
		b[i] ^= 1 << (i % 8)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		check(t, data)
		check(t, reframe(Version, data))
		check(t, reframe(1, data))
	})
}

func check(t *testing.T, data []byte) {
	cp, err := Decode(data)
	if err != nil {
		if cp != nil {
			t.Fatalf("Decode returned a checkpoint and error %v", err)
		}
		for _, s := range []error{ErrBadMagic, ErrUnsupportedVersion, ErrTruncated, ErrChecksum, ErrMalformed} {
			if errors.Is(err, s) {
				return
			}
		}
		t.Fatalf("Decode error %v is none of the sentinels", err)
	}
	again, err := Encode(cp)
	if err != nil {
		t.Fatalf("Encode of a decoded checkpoint: %v", err)
	}
	back, err := Decode(again)
	if err != nil {
		t.Fatalf("Decode of a re-encoded checkpoint: %v", err)
	}
	if !reflect.DeepEqual(back, cp) {
		t.Fatalf("re-encoded checkpoint decodes differently:\n got %#v\nwant %#v", back, cp)
	}
}
