package file_test

import (
	"encoding/json"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/file"
)

const twoLines = "{\"a\":1}\n{\"a\":2}\n"

// checkpointOf reads every shard of a new source over glob once, as a run
// would, and returns the identity its checkpoint would record.
func checkpointOf(t *testing.T, glob string) []byte {
	t.Helper()
	src, err := file.New(file.Config{Glob: glob})
	if err != nil {
		t.Fatal(err)
	}
	shards, _ := src.Shards(t.Context())
	for _, sh := range shards {
		readAll(t, src, sh.ID, 0)
	}
	return src.Identity()
}

func wantIncompatible(t *testing.T, what string, err error, mentions ...string) {
	t.Helper()
	if !errors.Is(err, pipeline.ErrIncompatibleSource) {
		t.Fatalf("%s = %v, want an error wrapping ErrIncompatibleSource", what, err)
	}
	for _, m := range mentions {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("%s = %q, want it to mention %q", what, err, m)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("%s = %q, want one line", what, err)
	}
}

func TestIdentityFormat(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("{\"x\":12345678}\n", 500) // 7500 bytes: the head is its first 4096
	files := map[string]string{"a.jsonl": twoLines, "b.jsonl": big, "c.jsonl": ""}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var id struct {
		V     int    `json:"v"`
		Glob  string `json:"glob"`
		Files map[string]struct {
			Dev     uint64 `json:"dev"`
			Ino     uint64 `json:"ino"`
			HeadLen int    `json:"head_len"`
			HeadCRC uint32 `json:"head_crc"`
		} `json:"files"`
	}
	glob := dir + "/./*.jsonl"
	if err := json.Unmarshal(checkpointOf(t, glob), &id); err != nil {
		t.Fatal(err)
	}
	if id.V != 1 || id.Glob != filepath.Join(dir, "*.jsonl") || len(id.Files) != 3 {
		t.Fatalf("identity = %+v, want v 1, the cleaned glob and 3 files", id)
	}
	for name, content := range files {
		f := id.Files[filepath.Join(dir, name)]
		head := content[:min(4096, len(content))]
		if f.HeadLen != len(head) || f.HeadCRC != crc32.Checksum([]byte(head), crc32.MakeTable(crc32.Castagnoli)) {
			t.Errorf("%s: head %d bytes, CRC %08x; want %d bytes and their CRC-32C", name, f.HeadLen, f.HeadCRC, len(head))
		}
		if f.Ino == 0 {
			t.Errorf("%s: inode 0", name)
		}
	}
}

// A file rewritten with lines of the same lengths and other content would
// resume at a byte offset inside other data: Resume refuses it, and so does
// OpenShard when the file is replaced after Resume.
func TestReplacedFileIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.jsonl")
	if err := os.WriteFile(path, []byte(twoLines), 0o644); err != nil {
		t.Fatal(err)
	}
	ckpt := checkpointOf(t, path)
	other := strings.ReplaceAll(twoLines, "a", "b") // same lengths, same inode
	if err := os.WriteFile(path, []byte(other), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := file.New(file.Config{Glob: path})
	if err != nil {
		t.Fatal(err)
	}
	wantIncompatible(t, "Resume", src.Resume(ckpt), path, "first 16 bytes have changed", "put the original back", "--overwrite")

	// Resume passes with the original; the file is replaced before the shard is opened.
	if err := os.WriteFile(path, []byte(twoLines), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err = file.New(file.Config{Glob: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Resume(ckpt); err != nil {
		t.Fatalf("Resume with the original file: %v", err)
	}
	if err := os.WriteFile(path, []byte(other), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := src.OpenShard(t.Context(), pipeline.Shard{ID: path}, pipeline.Position{N: 8})
	if err == nil {
		r.Close()
	}
	wantIncompatible(t, "OpenShard", err, path, "have changed")
}

// Within one run, a file replaced between two opens of its shard is refused
// too: the identity is the one of the first open.
func TestFileReplacedWithinARunIsRefused(t *testing.T) {
	path, src := newFileSource(t, twoLines, file.Config{})
	readAll(t, src, path, 0)
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(twoLines, "1", "9")), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := src.OpenShard(t.Context(), pipeline.Shard{ID: path}, pipeline.Position{})
	if err == nil {
		r.Close()
	}
	wantIncompatible(t, "OpenShard", err, path)
}

// A file renamed over the original, even with the same bytes, is another
// file: its inode differs.
func TestRenamedOverFileIsRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.jsonl")
	if err := os.WriteFile(path, []byte(twoLines), 0o644); err != nil {
		t.Fatal(err)
	}
	ckpt := checkpointOf(t, path)
	tmp := filepath.Join(dir, "f.tmp")
	if err := os.WriteFile(tmp, []byte(twoLines), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	src, err := file.New(file.Config{Glob: path})
	if err != nil {
		t.Fatal(err)
	}
	wantIncompatible(t, "Resume", src.Resume(ckpt), path, "another file now", "inode")
}

func TestTruncatedBelowTheHeadIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.jsonl")
	if err := os.WriteFile(path, []byte(twoLines), 0o644); err != nil {
		t.Fatal(err)
	}
	ckpt := checkpointOf(t, path)
	if err := os.Truncate(path, 8); err != nil {
		t.Fatal(err)
	}
	src, err := file.New(file.Config{Glob: path})
	if err != nil {
		t.Fatal(err)
	}
	wantIncompatible(t, "Resume", src.Resume(ckpt), path, "8 bytes long now, shorter than the 16 bytes")
}

func TestGlobChangeIsRefused(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.jsonl", "b.json"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(twoLines), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	was, now := filepath.Join(dir, "*.jsonl"), filepath.Join(dir, "*.json*")
	ckpt := checkpointOf(t, was)
	src, err := file.New(file.Config{Glob: now})
	if err != nil {
		t.Fatal(err)
	}
	wantIncompatible(t, "Resume", src.Resume(ckpt),
		`the checkpoint was taken of files matching "`+was+`", this run reads files matching "`+now+`"`)
}

func TestResumeOfOtherIdentities(t *testing.T) {
	_, src := newFileSource(t, twoLines, file.Config{})
	if err := src.Resume(nil); err != nil {
		t.Errorf("Resume(nil) (a checkpoint without identity) = %v", err)
	}
	for _, prev := range []string{`{"v":2,"glob":"x"}`, `{"v":1,"shards":4,"seed":1}`, `not json`} {
		wantIncompatible(t, "Resume("+prev+")", src.Resume([]byte(prev)))
	}
}

// A checkpoint whose identity of a file has a head length no version writes
// (negative, or more than the 4096 bytes checksummed) is refused, not a
// panic or a misleading "shorter than" of a longer file.
func TestResumeOfABadHeadLength(t *testing.T) {
	path, src := newFileSource(t, strings.Repeat("{}\n", 2000), file.Config{})
	ckpt := checkpointOf(t, path)
	for _, n := range []string{"-1", "4097"} {
		bad := regexp.MustCompile(`"head_len":\d+`).ReplaceAll(ckpt, []byte(`"head_len":`+n))
		if string(bad) == string(ckpt) {
			t.Fatalf("no head_len in %s", ckpt)
		}
		wantIncompatible(t, "Resume(head_len "+n+")", src.Resume(bad), path, "head of "+n+" bytes")
	}
}

// A checkpointed file that no longer exists was rotated away: Resume accepts
// it, its shard ends at once, and the identity keeps it. A file the
// checkpoint does not know is a new shard, read from its start.
func TestRotatedAwayAndNewFiles(t *testing.T) {
	dir := t.TempDir()
	old, added := filepath.Join(dir, "1.jsonl"), filepath.Join(dir, "2.jsonl")
	if err := os.WriteFile(old, []byte(twoLines), 0o644); err != nil {
		t.Fatal(err)
	}
	ckpt := checkpointOf(t, filepath.Join(dir, "*.jsonl"))
	if err := os.WriteFile(added, []byte(twoLines), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(old); err != nil {
		t.Fatal(err)
	}
	src, err := file.New(file.Config{Glob: filepath.Join(dir, "*.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Resume(ckpt); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	r, err := src.OpenShard(t.Context(), pipeline.Shard{ID: old}, pipeline.Position{N: 16})
	if err != nil {
		t.Fatalf("OpenShard of a file rotated away: %v", err)
	}
	for range 2 {
		if _, err := r.Read(t.Context()); !errors.Is(err, pipeline.ErrShardEnd) {
			t.Errorf("Read of a file rotated away = %v, want ErrShardEnd", err)
		}
	}
	r.Close()
	r, err = src.OpenShard(t.Context(), pipeline.Shard{ID: added}, pipeline.Earliest)
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Read(t.Context())
	if err != nil || b.Len() != 2 || b.First.N != 8 {
		t.Errorf("new file from Earliest: %v, %v; want its two lines", b, err)
	}
	b.Release()
	r.Close()
	id := string(src.Identity())
	if !strings.Contains(id, `"`+old+`"`) || !strings.Contains(id, `"`+added+`"`) {
		t.Errorf("Identity = %s, want both files", id)
	}
}

// Identity runs on the coordinator's goroutine while shards are opened.
func TestIdentityWhileShardsOpen(t *testing.T) {
	dir := writeFiles(t, testFiles())
	src, err := file.New(file.Config{Glob: filepath.Join(dir, "*.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	shards, _ := src.Shards(t.Context())
	var wg sync.WaitGroup
	for _, sh := range shards {
		wg.Go(func() {
			r, err := src.OpenShard(t.Context(), sh, pipeline.Position{})
			if err != nil {
				t.Error(err)
				return
			}
			r.Close()
		})
	}
	for range 50 {
		_ = src.Identity()
	}
	wg.Wait()
	if err := (func() error { return src.Resume(src.Identity()) })(); err != nil {
		t.Errorf("Resume(own identity) = %v", err)
	}
}
