package s3out

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/shardflow/shardflow/sinks/parquet"
	"github.com/shardflow/shardflow/sinks/staging"
)

var (
	_ parquet.Files        = (*Files)(nil)
	_ parquet.SpanningFile = (*file)(nil)
)

const (
	ext           = "parquet"
	handleVersion = 1
	tmpDir        = staging.LogDir + "/tmp"
)

// Files keeps the Parquet files of one table on S3 (parquet.Files). It is
// used by the sink's goroutine.
type Files struct {
	cfg  Config
	root string // the table's key prefix, "prefix/table"
	next uint64 // the checkpoint that files created now are named after

	job, run   string
	epoch      uint64
	registered bool

	open  []*file   // files not yet pre-committed as done
	tails []tailUse // temporary objects written, for deletion once unneeded
	// ctx is Recover's, without its cancellation, for the calls of
	// parquet.File's methods, which take none.
	ctx context.Context

	dirty      bool    // a file was created or written since the last PreCommit
	preID      uint64  // the last checkpoint pre-committed
	lastCommit *handle // the handle of the last Commit

	committed, commits, last, removed, forgotten, aborted int64
	partsUp, bytesUp, tailsUp                             int64
}

// tailUse is a temporary object and the checkpoint that wrote it.
type tailUse struct {
	key string // relative to root
	id  uint64
}

// New returns the Files of cfg.
func New(cfg Config) (*Files, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	root := cfg.Table
	if cfg.Prefix != "" {
		root = cfg.Prefix + "/" + cfg.Table
	}
	return &Files{cfg: cfg, root: root, next: 1, ctx: context.Background()}, nil
}

// Root is the key prefix of the table (without the trailing slash).
func (fs *Files) Root() string { return fs.root }

func (fs *Files) key(rel string) string { return fs.root + "/" + rel }

// file is one Parquet file being written: one multipart upload.
type file struct {
	fs     *Files
	rel    string // final path relative to the root
	upload string
	parts  []partState
	buf    []byte // bytes written after the parts
	size   int64  // bytes written in all
	born   time.Time
	done   bool   // the footer is written; the last part is up
	footer []byte // the footer of the row groups so far (Checkpoint)
	tail   string // the temporary object holding buf and footer, while it does
	tailN  int64  // len(buf) when tail was written
	pre    bool   // listed in a handle already
	err    error  // sticky
}

type partState struct {
	N    int32  `json:"n"`
	ETag string `json:"etag"`
	Size int64  `json:"size"`
}

// fileState is a file in a handle.
type fileState struct {
	// Path is the final path, relative to the table.
	Path   string      `json:"path"`
	Upload string      `json:"upload"`
	Parts  []partState `json:"parts"`
	Size   int64       `json:"size"`
	// Done files are complete: their upload is completed at commit. The
	// others stay open: Tail is a temporary object that holds their bytes
	// after the parts (TailBytes of them) and then the footer that ends the
	// file at this checkpoint. The handle stays small however many row
	// groups the file has.
	Done      bool   `json:"done,omitempty"`
	Tail      string `json:"tail,omitempty"`
	TailBytes int64  `json:"tail_bytes,omitempty"`
}

type handle struct {
	Version int         `json:"v"`
	ID      uint64      `json:"id"`
	Files   []fileState `json:"files"`
}

func parseHandle(b []byte, id uint64) (handle, error) {
	var h handle
	if err := json.Unmarshal(b, &h); err != nil {
		return h, fmt.Errorf("s3out: handle: %w", err)
	}
	if h.Version != handleVersion {
		return h, fmt.Errorf("s3out: handle version %d, want %d", h.Version, handleVersion)
	}
	if h.ID != id {
		return h, fmt.Errorf("s3out: handle is of checkpoint %d, not %d", h.ID, id)
	}
	for _, f := range h.Files {
		n, err := staging.ParseName(path.Base(f.Path))
		if err != nil || n.Staged || n.Ext != ext || n.Checkpoint > id || f.Upload == "" || !localPath(f.Path) ||
			!f.Done && (!strings.HasPrefix(f.Tail, tmpDir+"/") || f.TailBytes < 0) {
			return h, fmt.Errorf("s3out: handle: bad file %q", f.Path)
		}
	}
	return h, nil
}

func localPath(p string) bool {
	return p != "" && !path.IsAbs(p) && path.Clean(p) == p && !strings.HasPrefix(p, "../") && p != ".." &&
		!strings.HasPrefix(p, staging.LogDir+"/")
}

// Create implements parquet.Files: it starts the multipart upload of
// dir/part-<run>-<next:08d>-<seq:04d>.parquet.
func (fs *Files) Create(dir string, seq int) (parquet.File, error) {
	if fs.run == "" {
		return nil, errors.New("s3out: create: no run id yet (Recover first)")
	}
	if seq < 0 || seq > 9999 {
		return nil, fmt.Errorf("s3out: file sequence %d out of range [0, 9999]", seq)
	}
	rel := path.Join(dir, staging.FinalName(fs.run, fs.next, seq, ext))
	if !localPath(rel) {
		return nil, fmt.Errorf("s3out: bad directory %q", dir)
	}
	if err := fs.register(fs.ctx); err != nil {
		return nil, err
	}
	out, err := fs.cfg.Client.CreateMultipartUpload(fs.ctx, &s3.CreateMultipartUploadInput{
		Bucket: &fs.cfg.Bucket, Key: aws.String(fs.key(rel)), ContentType: aws.String("application/vnd.apache.parquet"),
	})
	if err != nil {
		return nil, fmt.Errorf("s3out: %s: create upload: %w", rel, err)
	}
	fs.dirty = true
	f := &file{fs: fs, rel: rel, upload: aws.ToString(out.UploadId), born: fs.cfg.Now()}
	fs.open = append(fs.open, f)
	return f, nil
}

// Path implements parquet.File.
func (f *file) Path() string { return f.fs.Location() + "/" + f.rel }

// Location is the s3:// URL of the table.
func (fs *Files) Location() string { return "s3://" + fs.cfg.Bucket + "/" + fs.root }

// Write appends p to the file and uploads a part once PartSize bytes wait.
func (f *file) Write(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	if f.done {
		return 0, fmt.Errorf("s3out: %s: write after the footer", f.rel)
	}
	f.fs.dirty = true
	f.buf = append(f.buf, p...)
	f.size += int64(len(p))
	f.tail = ""
	if len(f.buf) >= f.fs.cfg.PartSize {
		if err := f.uploadBuf(f.fs.ctx); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// uploadBuf uploads the waiting bytes as the next part.
func (f *file) uploadBuf(ctx context.Context) error {
	p, err := f.fs.uploadPart(ctx, f.rel, f.upload, int32(len(f.parts)+1), f.buf)
	if err != nil {
		f.err = err
		return err
	}
	f.parts = append(f.parts, p)
	f.buf, f.tail = f.buf[:0], ""
	return nil
}

func (fs *Files) uploadPart(ctx context.Context, rel, upload string, n int32, b []byte) (partState, error) {
	out, err := fs.cfg.Client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: &fs.cfg.Bucket, Key: aws.String(fs.key(rel)), UploadId: &upload,
		PartNumber: &n, Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b))),
	})
	if err != nil {
		return partState{}, fmt.Errorf("s3out: %s: upload part %d: %w", rel, n, err)
	}
	fs.partsUp++
	fs.bytesUp += int64(len(b))
	return partState{N: n, ETag: aws.ToString(out.ETag), Size: int64(len(b))}, nil
}

// Finish implements parquet.File: the footer is written, so the rest goes
// up as the last part; the upload is completed by the commit of the next
// checkpoint.
func (f *file) Finish() error {
	if f.err != nil {
		return f.err
	}
	if f.done {
		return nil
	}
	if len(f.buf) > 0 || len(f.parts) == 0 {
		if err := f.uploadBuf(f.fs.ctx); err != nil {
			return err
		}
	}
	f.done, f.buf, f.footer = true, nil, nil
	return nil
}

// Roll implements parquet.SpanningFile: by size or age.
func (f *file) Roll() bool {
	return f.Full() || f.fs.cfg.Now().Sub(f.born) >= f.fs.cfg.RollAge
}

// Full implements parquet.SpanningFile.
func (f *file) Full() bool { return f.size >= f.fs.cfg.RollSize }

// Checkpoint implements parquet.SpanningFile.
func (f *file) Checkpoint(footer []byte) error {
	if f.err != nil {
		return f.err
	}
	if !bytes.Equal(footer, f.footer) {
		f.footer, f.tail = slices.Clone(footer), ""
	}
	return nil
}

// PreCommit implements parquet.Files: every file that the sink finished is
// listed as done; every other open file uploads its waiting bytes as a part
// if they are at least MinPartSize, or else as a temporary object, and is
// listed with its parts, that object and its footer.
func (fs *Files) PreCommit(ctx context.Context, id uint64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("s3out: pre-commit %d: %w", id, err)
	}
	if id < fs.next {
		return nil, fmt.Errorf("s3out: pre-commit %d: checkpoint ids must increase (next is %d)", id, fs.next)
	}
	slices.SortFunc(fs.open, func(a, b *file) int { return strings.Compare(a.rel, b.rel) })
	h := handle{Version: handleVersion, ID: id, Files: make([]fileState, 0, len(fs.open))}
	kept := fs.open[:0:0]
	for _, f := range fs.open {
		if f.err != nil {
			return nil, fmt.Errorf("s3out: pre-commit %d: %w", id, f.err)
		}
		st := fileState{Path: f.rel, Upload: f.upload, Size: f.size, Done: f.done}
		if !f.done {
			if f.footer == nil {
				return nil, fmt.Errorf("s3out: pre-commit %d: %s: open file without a footer", id, f.rel)
			}
			if len(f.buf) >= MinPartSize {
				if err := f.uploadBuf(ctx); err != nil {
					return nil, fmt.Errorf("s3out: pre-commit %d: %w", id, err)
				}
			}
			if f.tail == "" {
				key := path.Join(tmpDir, f.rel+"."+pad8(id)+".tail")
				body := append(slices.Clip(f.buf), f.footer...) // a copy: the SDK wants a seekable body
				_, err := fs.cfg.Client.PutObject(ctx, &s3.PutObjectInput{
					Bucket: &fs.cfg.Bucket, Key: aws.String(fs.key(key)), Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
				})
				if err != nil {
					return nil, fmt.Errorf("s3out: pre-commit %d: %s: tail: %w", id, f.rel, err)
				}
				fs.tailsUp++
				f.tail, f.tailN = key, int64(len(f.buf))
				fs.tails = append(fs.tails, tailUse{key: key, id: id})
			}
			st.Tail, st.TailBytes = f.tail, f.tailN
			kept = append(kept, f)
		}
		st.Parts = slices.Clone(f.parts)
		f.pre = true
		h.Files = append(h.Files, st)
	}
	b, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("s3out: pre-commit %d: %w", id, err)
	}
	fs.open = kept
	fs.next, fs.preID, fs.dirty = id+1, id, false
	return b, nil
}

func pad8(id uint64) string { return fmt.Sprintf("%08d", id) }

// Commit implements parquet.Files: it writes the checkpoint's entry to the
// commit log, listing its done files, completes their uploads, and deletes
// the temporary objects that only older checkpoints needed. It is
// idempotent: an upload already completed (gone, with its object present)
// is skipped.
func (fs *Files) Commit(ctx context.Context, id uint64, hb []byte) error {
	h, err := parseHandle(hb, id)
	if err != nil {
		return err
	}
	n, err := fs.commit(ctx, h, true)
	fs.committed += int64(n)
	if err != nil {
		return err
	}
	fs.dropTails(ctx, h)
	fs.lastCommit = &h
	return nil
}

// commit writes the log entry of h's done files (if rewrite or missing) and
// completes them; it returns the number of uploads it completed.
func (fs *Files) commit(ctx context.Context, h handle, rewrite bool) (int, error) {
	var done []fileState
	for _, f := range h.Files {
		if f.Done {
			done = append(done, f)
		}
	}
	if len(done) == 0 {
		return 0, nil
	}
	if fs.run == "" {
		return 0, fmt.Errorf("s3out: commit %d: no run id yet (Recover first)", h.ID)
	}
	e := staging.LogEntry{Version: 1, Job: fs.job, Run: fs.run, Epoch: fs.epoch, Checkpoint: h.ID}
	for _, f := range done {
		e.Files = append(e.Files, f.Path)
	}
	if err := fs.putEntry(ctx, e, rewrite); err != nil {
		return 0, fmt.Errorf("s3out: commit %d: commit log: %w", h.ID, err)
	}
	completed := 0
	for _, f := range done {
		did, err := fs.complete(ctx, f, f.Parts)
		if err != nil {
			return completed, fmt.Errorf("s3out: commit %d: %w", h.ID, err)
		}
		if did {
			completed++
		}
	}
	fs.countCommit(h.ID)
	return completed, nil
}

func (fs *Files) countCommit(id uint64) {
	if fs.commits == 0 || int64(id) > fs.last {
		fs.commits++
		fs.last = int64(id)
	}
}

// complete completes f's upload with parts. An upload that is gone is fine
// when the object is there with f's size (an earlier attempt completed it).
func (fs *Files) complete(ctx context.Context, f fileState, parts []partState) (bool, error) {
	cp := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		cp[i] = types.CompletedPart{PartNumber: aws.Int32(p.N), ETag: aws.String(p.ETag)}
	}
	_, err := fs.cfg.Client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &fs.cfg.Bucket, Key: aws.String(fs.key(f.Path)), UploadId: &f.Upload,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: cp},
	})
	if err == nil {
		return true, nil
	}
	if !isNoSuchUpload(err) {
		return false, fmt.Errorf("%s: complete upload: %w", f.Path, err)
	}
	ok, herr := fs.present(ctx, f.Path, f.Size)
	if herr != nil {
		return false, fmt.Errorf("%s: complete upload: %w (and %w)", f.Path, err, herr)
	}
	if !ok {
		return false, &refusal{err: staging.ErrMissing, msg: fmt.Sprintf("s3out: %s: the upload of %s is gone and the object is missing (%v); restore it, or run with --overwrite", fs.Location(), f.Path, err)}
	}
	return false, nil
}

// present reports whether the object rel exists, with the given size when
// size > 0.
func (fs *Files) present(ctx context.Context, rel string, size int64) (bool, error) {
	out, err := fs.cfg.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &fs.cfg.Bucket, Key: aws.String(fs.key(rel))})
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if size > 0 && aws.ToInt64(out.ContentLength) != size {
		return false, fmt.Errorf("%s has %d bytes, the checkpoint says %d", rel, aws.ToInt64(out.ContentLength), size)
	}
	return true, nil
}

// dropTails deletes the temporary objects written for checkpoints before
// h's that h does not name: no checkpoint that may still be restored needs
// them. A failed delete is left for Recover.
func (fs *Files) dropTails(ctx context.Context, h handle) {
	need := make(map[string]bool)
	for _, f := range h.Files {
		if f.Tail != "" {
			need[f.Tail] = true
		}
	}
	kept := fs.tails[:0]
	for _, t := range fs.tails {
		if t.id >= h.ID || need[t.key] {
			kept = append(kept, t)
			continue
		}
		if _, err := fs.cfg.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &fs.cfg.Bucket, Key: aws.String(fs.key(t.key))}); err != nil {
			kept = append(kept, t)
		}
	}
	fs.tails = kept
}

// Close implements parquet.Files: it aborts the uploads of the files that
// no pre-commit lists. The others belong to a checkpoint that may have been
// persisted; Recover decides. But when the last checkpoint pre-committed has
// also been committed and nothing was written since (the job ended with a
// final checkpoint), Close finishes the files that it left open, as
// Recover would on the next start, so that a job that is done leaves all its
// output visible.
func (fs *Files) Close(ctx context.Context) error {
	if h := fs.lastCommit; h != nil && h.ID == fs.preID && !fs.dirty && len(fs.open) > 0 {
		var old *staging.LogEntry
		for _, f := range h.Files {
			if f.Done {
				if old == nil {
					old = &staging.LogEntry{Version: 1, Job: fs.job, Run: fs.run, Epoch: fs.epoch, Checkpoint: h.ID}
				}
				old.Files = append(old.Files, f.Path)
			}
		}
		if err := fs.recommit(ctx, *h, false, old); err != nil {
			return fmt.Errorf("s3out: close: %w", err)
		}
		fs.open = nil
		for _, t := range fs.tails {
			if err := fs.del(ctx, t.key); err != nil {
				return fmt.Errorf("s3out: close: %w", err)
			}
		}
		fs.tails = nil
		return nil
	}
	var errs []error
	for _, f := range fs.open {
		if f.pre {
			continue
		}
		if err := fs.abort(ctx, f.rel, f.upload); err != nil {
			errs = append(errs, err)
		}
	}
	fs.open = nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("s3out: close: %w", err)
	}
	return nil
}

func (fs *Files) abort(ctx context.Context, rel, upload string) error {
	_, err := fs.cfg.Client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &fs.cfg.Bucket, Key: aws.String(fs.key(rel)), UploadId: &upload})
	if err != nil && !isNoSuchUpload(err) {
		return fmt.Errorf("%s: abort upload: %w", rel, err)
	}
	fs.aborted++
	return nil
}

// Counters implements parquet.Files: the file sinks' counters
// (files_committed, commits, files_overwritten, files_forgotten) and the
// uploads': parts_uploaded, bytes_uploaded, tails_written, uploads_aborted.
func (fs *Files) Counters() map[string]int64 {
	return map[string]int64{
		"files_committed":   fs.committed,
		"commits":           fs.commits,
		"files_overwritten": fs.removed,
		"files_forgotten":   fs.forgotten,
		"parts_uploaded":    fs.partsUp,
		"bytes_uploaded":    fs.bytesUp,
		"tails_written":     fs.tailsUp,
		"uploads_aborted":   fs.aborted,
	}
}

// refusal is an error with its own one-line message that wraps a sentinel.
type refusal struct {
	msg string
	err error
}

func (r *refusal) Error() string { return r.msg }
func (r *refusal) Unwrap() error { return r.err }
