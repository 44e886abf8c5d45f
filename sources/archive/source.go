package archive

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/shardflow/shardflow/pipeline"
)

// Name is the archive source's Source.Name.
const Name = "archive"

var (
	_ pipeline.Source      = (*Source)(nil)
	_ pipeline.Identifier  = (*Source)(nil)
	_ pipeline.ShardReader = (*reader)(nil)
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// object is one file or S3 object of the archive, as identities record it.
type object struct {
	Key  string `json:"key"`
	Size int64  `json:"size"`
	Tag  string `json:"tag"` // S3 ETag, or "crc32c:HEX" of a local file's first 4 KiB
}

// identity is what a checkpoint records of an archive source (version 1).
type identity struct {
	V       int      `json:"v"`
	URL     string   `json:"url"`
	Objects []object `json:"objects"`
}

// Source reads an archive, one shard per object (see the package
// documentation). Its listing is taken once, by New.
type Source struct {
	cfg     Config
	bucket  string // s3:// only
	objects []object
	byKey   map[string]object
	read    map[string]*atomic.Int64 // by key: the object's bytes read up to now (Progress)
}

// New lists the archive and returns a source over it, or an error if cfg is
// invalid or the listing is empty or fails.
func New(ctx context.Context, cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Source{cfg: cfg, byKey: map[string]object{}, read: map[string]*atomic.Int64{}}
	var err error
	if bucket, prefix, ok := s3Parts(cfg.URL); ok {
		s.bucket = bucket
		s.objects, err = listS3(ctx, cfg.S3, bucket, prefix)
	} else {
		s.objects, err = listLocal(strings.TrimPrefix(cfg.URL, "file://"))
	}
	if err != nil {
		return nil, err
	}
	s.objects = slices.DeleteFunc(s.objects, func(o object) bool { return !cfg.keep(o.Key) })
	if len(s.objects) == 0 {
		return nil, fmt.Errorf("archive: %s holds no object (in the hours asked for)", cfg.URL)
	}
	for _, o := range s.objects {
		s.byKey[o.Key] = o
		s.read[o.Key] = new(atomic.Int64)
	}
	return s, nil
}

func listS3(ctx context.Context, c S3API, bucket, prefix string) ([]object, error) {
	var out []object
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("archive: list s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if strings.HasSuffix(key, "/") {
				continue // a folder marker
			}
			out = append(out, object{Key: key, Size: aws.ToInt64(o.Size), Tag: aws.ToString(o.ETag)})
		}
	}
	slices.SortFunc(out, func(a, b object) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

func listLocal(glob string) ([]object, error) {
	matches, err := filepath.Glob(glob)
	if err != nil {
		return nil, fmt.Errorf("archive: glob %q is malformed: %w", glob, err)
	}
	var out []object
	for _, m := range matches {
		fi, err := os.Stat(m)
		if err != nil {
			return nil, fmt.Errorf("archive: %w", err)
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		tag, err := headTag(m)
		if err != nil {
			return nil, err
		}
		out = append(out, object{Key: filepath.Clean(m), Size: fi.Size(), Tag: tag})
	}
	slices.SortFunc(out, func(a, b object) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// headTag is the tag of a local file: a CRC-32C of its first 4 KiB.
func headTag(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("archive: %w", err)
	}
	defer f.Close()
	h := crc32.New(castagnoli)
	if _, err := io.CopyN(h, f, 4096); err != nil && err != io.EOF {
		return "", fmt.Errorf("archive: %s: %w", path, err)
	}
	return fmt.Sprintf("crc32c:%08x", h.Sum32()), nil
}

// Name returns "archive".
func (s *Source) Name() string { return Name }

// Bounded returns true: an archive is read to its end.
func (s *Source) Bounded() bool { return true }

// Shards lists the objects in key order.
func (s *Source) Shards(context.Context) ([]pipeline.Shard, error) {
	out := make([]pipeline.Shard, len(s.objects))
	for i, o := range s.objects {
		out[i] = pipeline.Shard{ID: o.Key}
	}
	return out, nil
}

// Identity implements pipeline.Identifier: the URL and the listing.
func (s *Source) Identity() []byte {
	b, _ := json.Marshal(identity{V: 1, URL: s.cfg.URL, Objects: s.objects})
	return b
}

// ReplayKey implements pipeline.Replayable: an archive is fixed input, the
// URL and the listing that its Identity records.
func (s *Source) ReplayKey(context.Context) ([]byte, error) { return s.Identity(), nil }

// Resume implements pipeline.Identifier: it refuses a checkpoint taken of
// another URL or of a listing that differs from this one.
func (s *Source) Resume(prev []byte) error {
	if prev == nil {
		return nil
	}
	const todo = "restore the archive as it was, or start over with a new checkpoint directory and --overwrite"
	var was identity
	if err := json.Unmarshal(prev, &was); err != nil || was.V != 1 {
		return fmt.Errorf("%w: the checkpoint's source is not an archive this version knows; start over with a new checkpoint directory and --overwrite", pipeline.ErrIncompatibleSource)
	}
	if was.URL != s.cfg.URL {
		return fmt.Errorf("%w: the checkpoint was taken of %s, this run reads %s; read %s again, or start over with a new checkpoint directory and --overwrite",
			pipeline.ErrIncompatibleSource, was.URL, s.cfg.URL, was.URL)
	}
	if d := diff(was.Objects, s.objects); d != "" {
		return fmt.Errorf("%w: archive %s changed since the checkpoint: %s; %s", pipeline.ErrIncompatibleSource, s.cfg.URL, d, todo)
	}
	return nil
}

// diff names the first difference between two listings, or returns "".
func diff(was, now []object) string {
	old := map[string]object{}
	for _, o := range was {
		old[o.Key] = o
	}
	for _, o := range now {
		w, ok := old[o.Key]
		switch {
		case !ok:
			return fmt.Sprintf("%s is new (%d objects now, %d then)", o.Key, len(now), len(was))
		case w.Size != o.Size:
			return fmt.Sprintf("%s is %d bytes now, was %d", o.Key, o.Size, w.Size)
		case w.Tag != o.Tag:
			return fmt.Sprintf("%s has tag %s now, was %s", o.Key, o.Tag, w.Tag)
		}
		delete(old, o.Key)
	}
	for _, o := range was {
		if _, ok := old[o.Key]; ok {
			return fmt.Sprintf("%s is gone", o.Key)
		}
	}
	return ""
}

// OpenShard opens the object and skips to after.N, an offset in its
// decompressed bytes that ends a line (or 0).
func (s *Source) OpenShard(ctx context.Context, shard pipeline.Shard, after pipeline.Position) (pipeline.ShardReader, error) {
	o, ok := s.byKey[shard.ID]
	if !ok {
		return nil, fmt.Errorf("archive: unknown shard %q", shard.ID)
	}
	if after.IsStart() {
		after = pipeline.Position{}
	}
	if after.Seq != "" || after.N < 0 {
		return nil, fmt.Errorf("archive: shard %s: invalid position %q", shard.ID, after)
	}
	body, err := s.open(ctx, o, after.N)
	if err != nil {
		return nil, fmt.Errorf("archive: shard %s: %w", shard.ID, err)
	}
	return newReader(s.cfg, o.Key, body, after.N), nil
}

// open returns the decompressed bytes of o from offset off on.
func (s *Source) open(ctx context.Context, o object, off int64) (io.ReadCloser, error) {
	gz := strings.HasSuffix(o.Key, ".gz")
	var raw io.ReadCloser
	skip := off
	if s.bucket == "" {
		f, err := os.Open(o.Key)
		if err != nil {
			return nil, err
		}
		if !gz && off > 0 {
			if _, err := f.Seek(off, io.SeekStart); err != nil {
				f.Close()
				return nil, err
			}
			skip = 0
		}
		raw = f
	} else {
		in := &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(o.Key)}
		if !gz && off > 0 && off < o.Size {
			in.Range = aws.String(fmt.Sprintf("bytes=%d-", off))
			skip = 0
		} else if !gz && off >= o.Size {
			return io.NopCloser(strings.NewReader("")), nil
		}
		out, err := s.cfg.S3.GetObject(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("get s3://%s/%s: %w", s.bucket, o.Key, err)
		}
		raw = out.Body
	}
	raw = countReads(raw, s.read[o.Key], off-skip)
	body := raw
	if gz {
		z, err := newGzip(raw)
		if err != nil {
			raw.Close()
			return nil, fmt.Errorf("gzip: %w (the object is damaged or not gzip)", err)
		}
		body = z
	}
	if skip > 0 {
		if n, err := io.CopyN(io.Discard, body, skip); err != nil {
			body.Close()
			return nil, fmt.Errorf("skip to position %d: %w after %d bytes; has the object changed?", off, err, n)
		}
	}
	return body, nil
}
