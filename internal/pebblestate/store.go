package pebblestate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"

	"github.com/shardflow/shardflow/pipeline"
)

// Store is a pipeline.SpillStore in a pebble database of its own.
type Store struct {
	dir   string
	db    *pebble.DB
	cache interface{ Unref() }
	batch *pebble.Batch
}

var _ pipeline.SpillStore = (*Store)(nil)

// memTableSize and cacheSize bound what pebble itself keeps in memory per
// store: two memtables at most are being written or flushed at once.
const (
	memTableSize = 16 << 20
	cacheSize    = 8 << 20
)

// Open makes a fresh store in a new directory under dir (created if
// missing); name goes into the directory's name, to tell stores apart.
func Open(dir, name string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("pebblestate: no directory")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pebblestate: %w", err)
	}
	sub, err := os.MkdirTemp(dir, "spill-"+safeName(name)+"-*")
	if err != nil {
		return nil, fmt.Errorf("pebblestate: %w", err)
	}
	cache := pebble.NewCache(cacheSize)
	db, err := pebble.Open(sub, &pebble.Options{
		Cache:        cache,
		MemTableSize: memTableSize,
		DisableWAL:   true,
		Logger:       quietLogger{},
	})
	if err != nil {
		cache.Unref()
		os.RemoveAll(sub) //nolint:errcheck // the open error is the one to report
		return nil, fmt.Errorf("pebblestate: open %s: %w", sub, err)
	}
	return &Store{dir: sub, db: db, cache: cache, batch: db.NewBatch()}, nil
}

// Opener returns a function for pipeline.WithStateSpill that opens stores
// under dir.
func Opener(dir string) func(name string) (pipeline.SpillStore, error) {
	return func(name string) (pipeline.SpillStore, error) {
		s, err := Open(dir, name)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}

// Dir is the store's own directory.
func (s *Store) Dir() string { return s.dir }

// Add implements pipeline.SpillStore.
func (s *Store) Add(keys [][]byte) error {
	for _, k := range keys {
		if err := s.batch.Set(k, nil, nil); err != nil {
			return fmt.Errorf("pebblestate: add: %w", err)
		}
	}
	if err := s.batch.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("pebblestate: add: %w", err)
	}
	s.batch.Reset()
	return nil
}

// Scan implements pipeline.SpillStore.
func (s *Store) Scan(prefix []byte, f func(key []byte) error) (err error) {
	opts := &pebble.IterOptions{UpperBound: prefixEnd(prefix)}
	if len(prefix) > 0 {
		// An empty but non-nil bound trips pebble's invariant checks (race
		// builds) on some iterator addresses: no bound is the same bound.
		opts.LowerBound = prefix
	}
	it, err := s.db.NewIter(opts)
	if err != nil {
		return fmt.Errorf("pebblestate: scan: %w", err)
	}
	defer func() {
		if cerr := it.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("pebblestate: scan: %w", cerr)
		}
	}()
	for ok := it.First(); ok; ok = it.Next() {
		if err := f(it.Key()); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("pebblestate: scan: %w", err)
	}
	return nil
}

// DeletePrefix implements pipeline.SpillStore.
func (s *Store) DeletePrefix(prefix []byte) error {
	end := prefixEnd(prefix)
	if end == nil {
		return fmt.Errorf("pebblestate: delete: prefix %x has no upper bound", prefix)
	}
	if err := s.db.DeleteRange(prefix, end, pebble.NoSync); err != nil {
		return fmt.Errorf("pebblestate: delete: %w", err)
	}
	return nil
}

// Close implements pipeline.SpillStore: it closes the database and removes
// its directory.
func (s *Store) Close() error {
	if s.db == nil {
		return nil
	}
	errs := []error{s.batch.Close(), s.db.Close()}
	s.cache.Unref()
	s.db = nil
	errs = append(errs, os.RemoveAll(s.dir))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("pebblestate: close %s: %w", s.dir, err)
	}
	return nil
}

// prefixEnd is the smallest key after every key with prefix p, nil if there
// is none (p empty or all 0xff).
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// safeName keeps the letters, digits, '-' and '_' of name, for a directory name.
func safeName(name string) string {
	b := []byte(name)[:min(len(name), 40)]
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return filepath.Base(string(b))
}

// quietLogger drops pebble's informational lines and keeps its errors on the
// standard logger.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)         {}
func (quietLogger) Errorf(f string, args ...any) { pebble.DefaultLogger.Errorf(f, args...) }
func (quietLogger) Fatalf(f string, args ...any) { pebble.DefaultLogger.Fatalf(f, args...) }
