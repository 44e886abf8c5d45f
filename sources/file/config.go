package file

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Defaults and bounds of Config.
const (
	DefaultBatchSize     = 1000
	DefaultMaxBatchBytes = 4 << 20
	DefaultMaxLineBytes  = 1 << 20
	DefaultPollInterval  = time.Second

	MaxBatchSize     = 1 << 20
	MaxMaxBatchBytes = 1 << 30
	MaxMaxLineBytes  = 256 << 20
)

// Config configures a file source. The zero value of every field but Glob
// means its default.
type Config struct {
	// Glob selects the files, in filepath.Match syntax ("data/*.jsonl"); it
	// must match at least one readable regular file when the source is
	// created. A checkpoint records it: a job resumed with another glob is
	// refused.
	Glob string
	// BatchSize is the maximum number of records per Read; default 1000.
	BatchSize int
	// MaxBatchBytes closes a batch once its records hold this many bytes;
	// default 4 MiB. A batch always takes at least one record.
	MaxBatchBytes int
	// MaxLineBytes is the longest record, not counting its newline (nor the
	// carriage return of a CRLF line). A longer line is not a record: it
	// becomes a dead letter (DeadLetterSide) holding its first
	// min(MaxLineBytes, 64 KiB) bytes, and reading goes on after it.
	// Default 1 MiB.
	MaxLineBytes int
	// Follow makes the source unbounded, as tail -f: at the end of a file a
	// reader waits PollInterval and reads what was appended, and Shards
	// lists the files the glob matches at each call, so that new files
	// become new shards. Without Follow, a reader that reaches the end of its
	// file returns pipeline.ErrBoundReached and a later run reads on.
	Follow bool
	// PollInterval is how long a following reader waits at the end of its
	// file before it looks for appended bytes again; default 1s. Only with
	// Follow. A Read at the end of the file blocks this long (it returns
	// when its context ends), and the runtime wants Read to return about
	// every second: keep it at a second or less.
	PollInterval time.Duration
	// Mem allocates the batches; default memory.DefaultAllocator.
	Mem memory.Allocator
}

func (c Config) withDefaults() Config {
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if c.MaxLineBytes == 0 {
		c.MaxLineBytes = DefaultMaxLineBytes
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.Mem == nil {
		c.Mem = memory.DefaultAllocator
	}
	return c
}

// Validate reports the first problem of c, with defaults applied. It lists
// the files that Glob matches and opens each, so that a job with a wrong glob
// fails before it reads anything.
func (c Config) Validate() error {
	_, err := c.files()
	return err
}

// files validates c and returns the cleaned paths of the matched files, sorted.
func (c Config) files() ([]string, error) {
	c = c.withDefaults()
	switch {
	case c.BatchSize < 1 || c.BatchSize > MaxBatchSize:
		return nil, fmt.Errorf("file: invalid config: batch size = %d, want 1..%d", c.BatchSize, MaxBatchSize)
	case c.MaxBatchBytes < 1 || c.MaxBatchBytes > MaxMaxBatchBytes:
		return nil, fmt.Errorf("file: invalid config: max batch bytes = %d, want 1..%d", c.MaxBatchBytes, MaxMaxBatchBytes)
	case c.MaxLineBytes < 1 || c.MaxLineBytes > MaxMaxLineBytes:
		return nil, fmt.Errorf("file: invalid config: max line bytes = %d, want 1..%d", c.MaxLineBytes, MaxMaxLineBytes)
	case c.PollInterval < 0:
		return nil, fmt.Errorf("file: invalid config: poll interval = %v, want > 0", c.PollInterval)
	case c.Glob == "":
		return nil, errors.New("file: invalid config: glob is empty")
	}
	files, err := c.match()
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("file: glob %q matches no file", c.Glob)
	}
	return files, nil
}

// match returns the cleaned paths of the files that c.Glob matches now,
// sorted, checking that each is a readable regular file. A match that
// vanishes before it is checked (a file deleted meanwhile) is left out.
func (c Config) match() ([]string, error) {
	matches, err := filepath.Glob(c.Glob)
	if err != nil {
		return nil, fmt.Errorf("file: glob %q is malformed: %w", c.Glob, err)
	}
	var files []string
	for _, m := range matches {
		fi, err := os.Stat(m)
		if errors.Is(err, os.ErrNotExist) && !isSymlink(m) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("file: glob %q: %w", c.Glob, err)
		}
		if fi.IsDir() {
			continue
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("file: glob %q: %s is not a regular file", c.Glob, m)
		}
		f, err := os.Open(m)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("file: glob %q: %w", c.Glob, err)
		}
		f.Close()
		files = append(files, filepath.Clean(m))
	}
	return files, nil
}

// isSymlink reports whether path is a symbolic link (whose target may be
// missing).
func isSymlink(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.Mode()&os.ModeSymlink != 0
}
