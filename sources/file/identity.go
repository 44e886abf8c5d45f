package file

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/shardflow/shardflow/pipeline"
)

var _ pipeline.Identifier = (*Source)(nil)

// headBytes is how much of a file's beginning its identity checksums.
const headBytes = 4096

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// fileID tells one file apart from another that took its path: its device
// and inode, and a CRC-32C of its first HeadLen bytes, HeadLen being
// min(4096, its size when the source first opened it). It is taken from the
// descriptor the shard reads, once, and never changes after.
type fileID struct {
	Dev     uint64 `json:"dev"`
	Ino     uint64 `json:"ino"`
	HeadLen int64  `json:"head_len"`
	HeadCRC uint32 `json:"head_crc"`
}

// identity is what a checkpoint records of a file source (version 1): the
// glob, cleaned, and the identity of every file known to the source, by path.
type identity struct {
	V     int               `json:"v"`
	Glob  string            `json:"glob"`
	Files map[string]fileID `json:"files"`
}

// probe reads the identity of the open file f: device, inode, and the first
// min(headBytes, size) bytes, which it returns as head.
func probe(f *os.File) (fileID, []byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return fileID{}, nil, err
	}
	head := make([]byte, min(headBytes, fi.Size()))
	n, err := f.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return fileID{}, nil, err
	}
	head = head[:n] // shorter if the file shrank since Stat
	dev, ino := devIno(fi)
	return fileID{Dev: dev, Ino: ino, HeadLen: int64(n), HeadCRC: crc32.Checksum(head, castagnoli)}, head, nil
}

// check compares the identity a file had (was) with the device, inode and
// head (the first min(headBytes, size) bytes) it has now. It returns an error
// wrapping pipeline.ErrIncompatibleSource that names the file and what
// changed, or nil.
func check(path string, was, now fileID, head []byte) error {
	var what string
	switch {
	case was.Dev != now.Dev || was.Ino != now.Ino:
		what = fmt.Sprintf("it is another file now (device %d, inode %d; was device %d, inode %d)", now.Dev, now.Ino, was.Dev, was.Ino)
	case int64(len(head)) < was.HeadLen:
		what = fmt.Sprintf("it is %d bytes long now, shorter than the %d bytes whose checksum was recorded", len(head), was.HeadLen)
	case crc32.Checksum(head[:was.HeadLen], castagnoli) != was.HeadCRC:
		what = fmt.Sprintf("its first %d bytes have changed (CRC-32C %08x, was %08x)", was.HeadLen, crc32.Checksum(head[:was.HeadLen], castagnoli), was.HeadCRC)
	default:
		return nil
	}
	return fmt.Errorf("%w: file %s is not the file read before: %s; put the original back, or start over with a new checkpoint directory and --overwrite",
		pipeline.ErrIncompatibleSource, path, what)
}

// Identity implements pipeline.Identifier: the glob and the identity of every
// file this source has opened or adopted from Resume, as JSON (see identity).
// It is safe to call while shards are read.
func (s *Source) Identity() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, _ := json.Marshal(identity{V: 1, Glob: s.glob, Files: s.ids}) // strings and numbers always marshal
	return b
}

// Resume implements pipeline.Identifier. It refuses a checkpoint taken of
// another glob, or of a file that is another file now (another device or
// inode, shorter than the head the checkpoint checksummed, or another head),
// and one whose head length no version writes (a damaged checkpoint).
// Files of the checkpoint that no longer exist are not an error (rotated
// away): their shards end at once. Files the checkpoint does not know are new
// shards. It adopts the checkpoint's identities, so that OpenShard checks
// them again and the next checkpoint records them.
func (s *Source) Resume(prev []byte) error {
	if prev == nil {
		return nil // a checkpoint written before sources had identities
	}
	var was identity
	if err := json.Unmarshal(prev, &was); err != nil || was.V != 1 {
		return fmt.Errorf("%w: the checkpoint's source is not a file source this version knows (%q); start over with a new checkpoint directory and --overwrite",
			pipeline.ErrIncompatibleSource, truncate(prev, 80))
	}
	if was.Glob != s.glob {
		return fmt.Errorf("%w: the checkpoint was taken of files matching %q, this run reads files matching %q; read %q again, or start over with a new checkpoint directory and --overwrite",
			pipeline.ErrIncompatibleSource, was.Glob, s.glob, was.Glob)
	}
	for path, id := range was.Files {
		if id.HeadLen < 0 || id.HeadLen > headBytes {
			return fmt.Errorf("%w: the checkpoint's identity of file %s has a head of %d bytes, want 0 to %d; start over with a new checkpoint directory and --overwrite",
				pipeline.ErrIncompatibleSource, path, id.HeadLen, headBytes)
		}
		if err := recheck(path, id); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for path, id := range was.Files {
		if _, ok := s.ids[path]; !ok {
			s.ids[path] = id
		}
	}
	return nil
}

// recheck opens path and checks it against id; a file that no longer exists
// passes.
func recheck(path string, id fileID) error {
	f, err := os.Open(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("file: %w", err)
	}
	defer f.Close()
	now, head, err := probe(f)
	if err != nil {
		return fmt.Errorf("file: %s: %w", path, err)
	}
	return check(filepath.Clean(path), id, now, head)
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
