package archive

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Defaults and bounds of Config.
const (
	DefaultBatchSize    = 1000
	DefaultMaxLineBytes = 1 << 20
	MaxBatchSize        = 1 << 20
	MaxMaxLineBytes     = 256 << 20
)

// S3API is the part of the S3 client the source uses.
type S3API interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Config configures an archive source.
type Config struct {
	// URL is file://GLOB, a path glob (filepath.Match syntax), or
	// s3://BUCKET/PREFIX (every object whose key starts with PREFIX).
	URL string
	// S3 is the client for s3:// URLs (required for them).
	S3 S3API
	// From and To, when not zero, keep only objects whose key holds a
	// Firehose hour path YYYY/MM/DD/HH with From <= hour < To (the hour
	// truncated to the hour; From is truncated down too). Objects without
	// such a path are kept.
	From, To time.Time
	// BatchSize is the maximum number of records per Read; default 1000.
	BatchSize int
	// MaxLineBytes is the longest record; a longer line is a dead letter.
	// Default 1 MiB.
	MaxLineBytes int
	// Mem allocates the batches; default memory.DefaultAllocator.
	Mem memory.Allocator
}

func (c Config) withDefaults() Config {
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.MaxLineBytes == 0 {
		c.MaxLineBytes = DefaultMaxLineBytes
	}
	if c.Mem == nil {
		c.Mem = memory.DefaultAllocator
	}
	return c
}

// Validate reports the first problem of c, with defaults applied, without
// listing anything.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.BatchSize < 1 || c.BatchSize > MaxBatchSize:
		return fmt.Errorf("archive: invalid config: batch size = %d, want 1..%d", c.BatchSize, MaxBatchSize)
	case c.MaxLineBytes < 1 || c.MaxLineBytes > MaxMaxLineBytes:
		return fmt.Errorf("archive: invalid config: max line bytes = %d, want 1..%d", c.MaxLineBytes, MaxMaxLineBytes)
	case c.URL == "" || c.URL == "file://" || c.URL == "s3://":
		return errors.New("archive: invalid config: URL is empty; want file://GLOB or s3://BUCKET/PREFIX")
	case strings.HasPrefix(c.URL, "s3://") && c.S3 == nil:
		return errors.New("archive: invalid config: s3:// URL without an S3 client")
	case !c.From.IsZero() && !c.To.IsZero() && !c.From.Before(c.To):
		return fmt.Errorf("archive: invalid config: from %s is not before to %s", c.From.Format(time.RFC3339), c.To.Format(time.RFC3339))
	}
	if b, _, _ := s3Parts(c.URL); strings.HasPrefix(c.URL, "s3://") && b == "" {
		return fmt.Errorf("archive: invalid config: %q names no bucket", c.URL)
	}
	return nil
}

// s3Parts splits s3://BUCKET/PREFIX.
func s3Parts(url string) (bucket, prefix string, ok bool) {
	rest, ok := strings.CutPrefix(url, "s3://")
	if !ok {
		return "", "", false
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	return bucket, prefix, true
}

// keyHour returns the hour of the first YYYY/MM/DD/HH run of path segments
// of key (a Firehose delivery path), if any.
func keyHour(key string) (time.Time, bool) {
	seg := strings.Split(key, "/")
	for i := 0; i+3 < len(seg); i++ {
		if len(seg[i]) != 4 || len(seg[i+1]) != 2 || len(seg[i+2]) != 2 || len(seg[i+3]) != 2 {
			continue
		}
		t, err := time.Parse("2006/01/02/15", strings.Join(seg[i:i+4], "/"))
		if err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// keep reports whether the object at key is inside [From, To).
func (c Config) keep(key string) bool {
	if c.From.IsZero() && c.To.IsZero() {
		return true
	}
	h, ok := keyHour(key)
	if !ok {
		return true
	}
	if !c.From.IsZero() && h.Before(c.From.UTC().Truncate(time.Hour)) {
		return false
	}
	return c.To.IsZero() || h.Before(c.To)
}
