package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/shardflow/shardflow/pipeline"
)

// Name is the file source's Source.Name.
const Name = "file"

// ErrClosed is returned by Read on a closed shard reader.
var ErrClosed = errors.New("file: shard reader closed")

var (
	_ pipeline.Source       = (*Source)(nil)
	_ pipeline.ShardReader  = (*reader)(nil)
	_ pipeline.IdleReporter = (*reader)(nil)
	_ pipeline.ShardReader  = (*goneReader)(nil)
)

// Source reads JSON-lines files, one shard per file (see the package
// documentation).
type Source struct {
	cfg  Config
	glob string // cfg.Glob, cleaned, as identities record it

	mu     sync.Mutex        // guards what follows; OpenShard, Shards and Identity may run at once
	shards []pipeline.Shard  // the files matched by the last listing
	listed map[string]bool   // every file any listing matched
	ids    map[string]fileID // by path: files opened by this source or adopted from Resume
}

// New returns a source over the files that cfg.Glob matches now, or an error
// if cfg is invalid or matches no readable file.
func New(cfg Config) (*Source, error) {
	files, err := cfg.files()
	if err != nil {
		return nil, err
	}
	s := &Source{
		cfg:    cfg.withDefaults(),
		glob:   filepath.Clean(cfg.Glob),
		listed: map[string]bool{},
		ids:    map[string]fileID{},
	}
	s.setShards(files)
	return s, nil
}

func (s *Source) setShards(files []string) {
	s.shards = s.shards[:0]
	for _, f := range files {
		s.shards = append(s.shards, pipeline.Shard{ID: f})
		s.listed[f] = true
	}
}

// Name returns "file".
func (s *Source) Name() string { return Name }

// Bounded returns true unless the source follows its files (Config.Follow):
// then no file ends.
func (s *Source) Bounded() bool { return !s.cfg.Follow }

// Shards lists the files matched when the source was created or, when the
// source follows its files, the files the glob matches now, so that new
// files become new shards.
func (s *Source) Shards(context.Context) ([]pipeline.Shard, error) {
	if s.cfg.Follow {
		files, err := s.cfg.match()
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.setShards(files)
		return slices.Clone(s.shards), nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.shards), nil
}

// OpenShard opens the shard's file and seeks to after.N, which must be 0 or
// the end of a line; pipeline.Earliest is the start of the file, as the zero
// Position is. The first open of a file records its identity (see
// Identity); a later open, or one of a file whose identity Resume adopted,
// checks it on the descriptor it opened, and refuses a file that is another
// now with an error wrapping pipeline.ErrIncompatibleSource. A file that a
// listing matched, or that the checkpoint knew, and that no longer exists is
// a shard that ends at once (pipeline.ErrShardEnd): it was rotated away. (A
// following source then forgets the file's identity: see forget.)
func (s *Source) OpenShard(_ context.Context, shard pipeline.Shard, after pipeline.Position) (pipeline.ShardReader, error) {
	s.mu.Lock()
	_, known := s.ids[shard.ID]
	known = known || s.listed[shard.ID]
	s.mu.Unlock()
	if !known {
		return nil, fmt.Errorf("file: unknown shard %q", shard.ID)
	}
	if after.IsStart() {
		after = pipeline.Position{}
	}
	if after.Seq != "" || after.N < 0 {
		return nil, fmt.Errorf("file: shard %s: invalid position %q", shard.ID, after)
	}
	f, err := os.Open(shard.ID)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if s.cfg.Follow {
			s.forget(shard.ID, nil)
		}
		return &goneReader{}, nil
	case err != nil:
		return nil, fmt.Errorf("file: shard %s: %w", shard.ID, err)
	}
	id, err := s.identify(shard.ID, f)
	if err == nil {
		err = seekAfter(f, after.N)
	}
	if err != nil {
		f.Close()
		if errors.Is(err, pipeline.ErrIncompatibleSource) {
			return nil, fmt.Errorf("file: %w", err) // the error names the file
		}
		return nil, fmt.Errorf("file: shard %s: %w", shard.ID, err)
	}
	r := &reader{
		cfg:  s.cfg,
		id:   shard.ID,
		fid:  id,
		f:    f,
		base: after.N,
		buf:  make([]byte, min(64<<10, s.cfg.MaxLineBytes+2)),
		rb:   pipeline.NewRawBuilder(s.cfg.Mem),
	}
	if s.cfg.Follow {
		r.forget = func() { s.forget(shard.ID, &id) }
	}
	return r, nil
}

// forget drops the identity of a followed file that is gone (the one the
// reader checked, if id is not nil), so that a file created later at its
// path is a new file, not a replaced one. Without Follow the identity stays:
// the checkpoint keeps the file's shard finished, and a run that finds
// another file at its path refuses it.
func (s *Source) forget(path string, id *fileID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if was, ok := s.ids[path]; ok && (id == nil || was == *id) {
		delete(s.ids, path)
	}
}

// identify records the identity of the file f opened at path, or checks it
// against the one recorded before, and returns the recorded one.
func (s *Source) identify(path string, f *os.File) (fileID, error) {
	now, head, err := probe(f)
	if err != nil {
		return fileID{}, err
	}
	s.mu.Lock()
	was, ok := s.ids[path]
	if !ok {
		s.ids[path] = now
	}
	s.mu.Unlock()
	if !ok {
		return now, nil
	}
	return was, check(path, was, now, head)
}

// seekAfter positions f at off, checking that off ends a line.
func seekAfter(f *os.File, off int64) error {
	if off == 0 {
		return nil
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if off > fi.Size() {
		return fmt.Errorf("position %d is past the end of the file (%d bytes); has it been truncated?", off, fi.Size())
	}
	if off < fi.Size() {
		// b holds the byte before off and up to two after it.
		var b [3]byte
		n, err := f.ReadAt(b[:], off-1)
		if err != nil && err != io.EOF {
			return err
		}
		// off ends a line. A checkpoint written before partial lines were
		// held back may also end a final line that had no newline when it
		// was read (then off may be the end of the file) and has since been
		// terminated ("\n" or "\r\n" appended): the reader skips the empty
		// line that remains.
		terminated := b[1] == '\n' || (n == 3 && b[1] == '\r' && b[2] == '\n')
		if b[0] != '\n' && !terminated {
			return fmt.Errorf("position %d is not at the end of a line; has the file changed?", off)
		}
	}
	_, err = f.Seek(off, io.SeekStart)
	return err
}

// goneReader reads a shard whose file no longer exists: it ends at once.
type goneReader struct{ closed bool }

func (g *goneReader) Read(context.Context) (*pipeline.Batch, error) {
	if g.closed {
		return nil, ErrClosed
	}
	return nil, pipeline.ErrShardEnd
}

func (g *goneReader) Close() error {
	g.closed = true
	return nil
}
