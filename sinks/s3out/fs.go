package s3out

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/shardflow/shardflow/sinks/staging"
)

var _ staging.FS = (*FS)(nil)

// FS is a staging.FS on S3, for file sinks other than Parquet (the dead
// letters' jsonl sink): a staged file is buffered in memory and PUT when
// synced or closed, a rename is a copy and a delete, directories are key
// prefixes, and directory syncs do nothing (S3's writes are durable when
// they return). A rename is not atomic, but staging never needs it to be:
// a commit that dies between the copy and the delete is done again, and the
// copy writes the same bytes; the commit log's temporary files are renamed
// the same way. Staged files are small (one checkpoint's dead letters).
//
// The paths it is given are those of a staging.Area whose root is Root(); the
// key of a path is its part below "s3:/BUCKET/" (filepath.Clean's form of
// "s3://BUCKET/").
type FS struct {
	client API
	bucket string
	base   string
	ctx    context.Context
}

// NewFS returns the FS of bucket.
func NewFS(client API, bucket string) *FS {
	return &FS{client: client, bucket: bucket, base: filepath.Clean("s3://"+bucket) + "/", ctx: context.Background()}
}

// Root is the Area root (a staging Dir) for the key prefix p.
func (f *FS) Root(p string) string { return f.base + p }

func (f *FS) key(name string) (string, error) {
	k, ok := strings.CutPrefix(filepath.ToSlash(name), filepath.ToSlash(f.base))
	if !ok || k == "" {
		return "", &fs.PathError{Op: "s3", Path: name, Err: fs.ErrInvalid}
	}
	return k, nil
}

// MkdirAll does nothing: prefixes need no creation.
func (f *FS) MkdirAll(string) error { return nil }

// SyncDir does nothing: S3's writes are durable when they return.
func (f *FS) SyncDir(string) error { return nil }

// CreateExcl returns a file that is PUT when synced or closed; it fails if
// the object exists.
func (f *FS) CreateExcl(name string) (staging.File, error) {
	k, err := f.key(name)
	if err != nil {
		return nil, err
	}
	if _, err := f.Stat(name); err == nil {
		return nil, &fs.PathError{Op: "create", Path: name, Err: fs.ErrExist}
	}
	return &s3File{fs: f, key: k}, nil
}

func (f *FS) put(k string, b []byte) error {
	_, err := f.client.PutObject(f.ctx, &s3.PutObjectInput{Bucket: &f.bucket, Key: &k, Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b)))})
	return err
}

// Rename copies oldname to newname and deletes oldname.
func (f *FS) Rename(oldname, newname string) error {
	ok, err := f.key(oldname)
	if err != nil {
		return err
	}
	nk, err := f.key(newname)
	if err != nil {
		return err
	}
	if _, err := f.Stat(oldname); err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: unwrapPath(err)}
	}
	src := f.bucket + "/" + (&url.URL{Path: ok}).EscapedPath()
	if _, err := f.client.CopyObject(f.ctx, &s3.CopyObjectInput{Bucket: &f.bucket, Key: &nk, CopySource: &src}); err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	if _, err := f.client.DeleteObject(f.ctx, &s3.DeleteObjectInput{Bucket: &f.bucket, Key: &ok}); err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	return nil
}

func unwrapPath(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}

// Remove deletes the object name; a missing one is fs.ErrNotExist.
func (f *FS) Remove(name string) error {
	if _, err := f.Stat(name); err != nil {
		return err
	}
	k, _ := f.key(name)
	if _, err := f.client.DeleteObject(f.ctx, &s3.DeleteObjectInput{Bucket: &f.bucket, Key: &k}); err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: err}
	}
	return nil
}

// Stat describes the object name, or the prefix name/ as a directory.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	k, err := f.key(name)
	if err != nil {
		return nil, err
	}
	out, err := f.client.HeadObject(f.ctx, &s3.HeadObjectInput{Bucket: &f.bucket, Key: &k})
	if err == nil {
		return info{name: path.Base(k), size: aws.ToInt64(out.ContentLength)}, nil
	}
	if !isNotFound(err) {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	lo, lerr := f.client.ListObjectsV2(f.ctx, &s3.ListObjectsV2Input{Bucket: &f.bucket, Prefix: aws.String(k + "/"), MaxKeys: aws.Int32(1)})
	if lerr == nil && len(lo.Contents) > 0 {
		return info{name: path.Base(k), dir: true}, nil
	}
	return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
}

// ReadFile returns the object's content.
func (f *FS) ReadFile(name string) ([]byte, error) {
	k, err := f.key(name)
	if err != nil {
		return nil, err
	}
	out, err := f.client.GetObject(f.ctx, &s3.GetObjectInput{Bucket: &f.bucket, Key: &k})
	if isNotFound(err) {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// ReadDir lists the prefix dir/: its objects and its sub-prefixes.
func (f *FS) ReadDir(dir string) ([]fs.DirEntry, error) {
	k, err := f.key(dir)
	if err != nil {
		return nil, err
	}
	var out []fs.DirEntry
	p := s3.NewListObjectsV2Paginator(f.client, &s3.ListObjectsV2Input{Bucket: &f.bucket, Prefix: aws.String(k + "/"), Delimiter: aws.String("/")})
	for p.HasMorePages() {
		page, err := p.NextPage(f.ctx)
		if err != nil {
			return nil, &fs.PathError{Op: "readdir", Path: dir, Err: err}
		}
		for _, cp := range page.CommonPrefixes {
			out = append(out, fs.FileInfoToDirEntry(info{name: path.Base(strings.TrimSuffix(aws.ToString(cp.Prefix), "/")), dir: true}))
		}
		for _, o := range page.Contents {
			out = append(out, fs.FileInfoToDirEntry(info{name: path.Base(aws.ToString(o.Key)), size: aws.ToInt64(o.Size)}))
		}
	}
	if len(out) == 0 {
		return nil, &fs.PathError{Op: "readdir", Path: dir, Err: fs.ErrNotExist}
	}
	return out, nil
}

type s3File struct {
	fs     *FS
	key    string
	buf    []byte
	synced bool
}

func (w *s3File) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	w.synced = false
	return len(p), nil
}

func (w *s3File) Sync() error {
	if err := w.fs.put(w.key, w.buf); err != nil {
		return fmt.Errorf("s3out: put %s: %w", w.key, err)
	}
	w.synced = true
	return nil
}

func (w *s3File) Close() error {
	if w.synced {
		return nil
	}
	return w.Sync()
}

type info struct {
	name string
	size int64
	dir  bool
}

func (i info) Name() string { return i.name }
func (i info) Size() int64  { return i.size }
func (i info) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
func (i info) ModTime() time.Time { return time.Time{} }
func (i info) IsDir() bool        { return i.dir }
func (i info) Sys() any           { return nil }
