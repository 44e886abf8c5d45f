package pebblestate_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/shardflow/shardflow/internal/pebblestate"
)

func keys(t *testing.T, s *pebblestate.Store, prefix string) []string {
	t.Helper()
	var got []string
	if err := s.Scan([]byte(prefix), func(k []byte) error {
		got = append(got, string(k))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestStoreAddScanDelete(t *testing.T) {
	dir := t.TempDir()
	s, err := pebblestate.Open(dir, "stage/0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add([][]byte{[]byte("a/2"), []byte("a/1"), []byte("b/1"), []byte("a/1"), []byte("a\xff")}); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(keys(t, s, "a")); got != "[a/1 a/2 a\xff]" {
		t.Errorf("scan a: %q", got)
	}
	if got := fmt.Sprint(keys(t, s, "a/")); got != "[a/1 a/2]" {
		t.Errorf("scan a/: %q", got)
	}
	if err := s.DeletePrefix([]byte("a")); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(keys(t, s, "")); got != "[b/1]" {
		t.Errorf("after delete: %q", got)
	}
	stop := fmt.Errorf("stop")
	if err := s.Scan(nil, func([]byte) error { return stop }); err != stop {
		t.Errorf("scan error %v, want %v", err, stop)
	}
	if err := s.DeletePrefix([]byte{0xff}); err == nil {
		t.Error("delete of an unbounded prefix: no error")
	}
	sub := s.Dir()
	if filepath.Dir(sub) != dir {
		t.Errorf("store dir %s not under %s", sub, dir)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sub); !os.IsNotExist(err) {
		t.Errorf("store dir after close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

// Two stores under one directory are apart, and a key added many times
// across flushes is one key.
func TestStoresApartAndLarge(t *testing.T) {
	dir := t.TempDir()
	a, err := pebblestate.Open(dir, "x")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := pebblestate.Open(dir, "x")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const n = 200_000
	batch := make([][]byte, 0, 1000)
	for round := range 2 {
		for i := range n {
			batch = append(batch, fmt.Appendf(nil, "k%07d", (i*7919+round)%n))
			if len(batch) == cap(batch) {
				if err := a.Add(batch); err != nil {
					t.Fatal(err)
				}
				batch = batch[:0]
			}
		}
	}
	var count int
	var prev []byte
	if err := a.Scan([]byte("k"), func(k []byte) error {
		if bytes.Compare(prev, k) >= 0 {
			t.Fatalf("scan out of order: %q after %q", k, prev)
		}
		prev = append(prev[:0], k...)
		count++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if count != n {
		t.Errorf("%d keys, want %d", count, n)
	}
	if got := keys(t, b, ""); len(got) != 0 {
		t.Errorf("other store holds %d keys", len(got))
	}
}

func TestOpenBadDir(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := pebblestate.Open(f, "x"); err == nil {
		t.Error("open under a file: no error")
	}
	if _, err := pebblestate.Open("", "x"); err == nil {
		t.Error("open with no dir: no error")
	}
}
