package s3out

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sinks/staging"
)

// Recover implements parquet.Files. It prepares the table for run r.Run of
// job r.Job, restored at checkpoint r.ID, and makes the table hold exactly
// what that checkpoint accounts for, as staging.Area.Recover does for a
// local table: it refuses entries of the job with a greater epoch
// (pipeline.ErrFenced) and entries of another run or of a newer checkpoint
// (staging.ErrUnaccounted; with r.Overwrite their objects and entries are
// deleted). Then it commits the restored handle again: its done files are
// completed and the files it left open are finished from what it records
// (parts, the temporary tail object and the footer), so each crash costs at
// most one extra, shorter file per open partition. It checks that the files
// of the accounted entries exist (staging.ErrMissing; with r.Overwrite they
// are dropped from the log), and then aborts every multipart upload and
// deletes every temporary object of the job's runs: the handle owned none of
// them any more. Uploads and objects of other jobs are never touched.
func (fs *Files) Recover(ctx context.Context, r pipeline.Recovery) error {
	if err := staging.ValidateRun(r.Run); err != nil {
		return fmt.Errorf("s3out: recover %d: %w", r.ID, err)
	}
	if r.Job == "" {
		return fmt.Errorf("s3out: recover %d: no job name", r.ID)
	}
	var h handle
	if len(r.Handle) > 0 {
		var err error
		if h, err = parseHandle(r.Handle, r.ID); err != nil {
			return err
		}
	}
	log, runs, err := fs.readLog(ctx)
	if err != nil {
		return err
	}
	acc, err := staging.Account("s3out: "+fs.Location(), log, runs, r)
	if err != nil {
		return err
	}
	accounted, mine := acc.Accounted, acc.Runs
	if len(acc.Foreign) > 0 && !r.Overwrite {
		return fs.unaccounted(r, acc.Foreign)
	}
	for _, e := range acc.Dropped(r) {
		for _, f := range e.Files {
			if err := fs.del(ctx, f); err != nil {
				return fmt.Errorf("s3out: recover %d: replace: %w", r.ID, err)
			}
			fs.removed++
		}
		if err := fs.del(ctx, path.Join(staging.LogDir, logName(e.Run, e.Checkpoint))); err != nil {
			return fmt.Errorf("s3out: recover %d: replace: %w", r.ID, err)
		}
	}
	fs.job, fs.run, fs.epoch = r.Job, r.Run, r.Epoch
	fs.registered = runs[r.Run] == r.Job
	fs.ctx = context.WithoutCancel(ctx)
	fs.open, fs.tails = nil, nil
	if len(h.Files) > 0 {
		var old *staging.LogEntry
		for i := range accounted {
			if accounted[i].Checkpoint == r.ID {
				old = &accounted[i]
			}
		}
		if err := fs.recommit(ctx, h, r.Overwrite, old); err != nil {
			return fmt.Errorf("s3out: recover %d: %w", r.ID, err)
		}
	}
	var older []staging.LogEntry
	for _, e := range accounted {
		if e.Checkpoint != r.ID {
			older = append(older, e)
		}
	}
	if err := fs.checkCommitted(ctx, older, r); err != nil {
		return err
	}
	if err := fs.sweep(ctx, mine); err != nil {
		return fmt.Errorf("s3out: recover %d: %w", r.ID, err)
	}
	if r.ID+1 > fs.next {
		fs.next = r.ID + 1
	}
	return nil
}

// recommit commits the handle h again, finishing its open files: the log
// entry of h.ID lists every file of the handle, written first (old is the
// entry the log has, nil if none), then the uploads are completed.
func (fs *Files) recommit(ctx context.Context, h handle, overwrite bool, old *staging.LogEntry) error {
	listed := func(p string) bool { return old != nil && slices.Contains(old.Files, p) }
	// A file whose upload and object are both gone is missing; with
	// Overwrite, or when an earlier Overwrite forgot it, it is dropped.
	var keep []fileState
	for _, f := range h.Files {
		ok, err := fs.present(ctx, f.Path, 0)
		if err != nil {
			return err
		}
		if !ok {
			up, err := fs.uploadExists(ctx, f)
			if err != nil {
				return err
			}
			if !up {
				if overwrite || f.Done && old != nil && !listed(f.Path) {
					fs.forgotten++
					continue
				}
				return &refusal{err: staging.ErrMissing, msg: fmt.Sprintf("s3out: %s: file %s of checkpoint %d is missing and its upload is gone; restore it, or run with --overwrite to drop it from the commit log", fs.Location(), f.Path, h.ID)}
			}
		}
		keep = append(keep, f)
	}
	if len(keep) == 0 {
		return nil
	}
	e := staging.LogEntry{Version: 1, Job: fs.job, Run: fs.run, Epoch: fs.epoch, Checkpoint: h.ID}
	for _, f := range keep {
		e.Files = append(e.Files, f.Path)
	}
	if old != nil {
		e.Epoch = old.Epoch
	}
	if old == nil || !slices.Equal(old.Files, e.Files) {
		if err := fs.putEntry(ctx, e, true); err != nil {
			return fmt.Errorf("commit log: %w", err)
		}
	}
	for _, f := range keep {
		var did bool
		var err error
		if f.Done {
			did, err = fs.complete(ctx, f, f.Parts)
		} else {
			did, err = fs.finishRestored(ctx, f)
		}
		if err != nil {
			return err
		}
		if did {
			fs.committed++
		}
	}
	fs.countCommit(h.ID)
	return nil
}

// uploadExists reports whether f's multipart upload is still open.
func (fs *Files) uploadExists(ctx context.Context, f fileState) (bool, error) {
	_, err := fs.cfg.Client.ListParts(ctx, &s3.ListPartsInput{Bucket: &fs.cfg.Bucket, Key: aws.String(fs.key(f.Path)), UploadId: &f.Upload, MaxParts: aws.Int32(1)})
	if isNoSuchUpload(err) {
		return false, nil
	}
	return err == nil, err
}

// finishRestored completes an open file of the restored checkpoint as it
// was then: its parts, then one last part of its tail object, which holds
// the bytes after the parts and the footer.
func (fs *Files) finishRestored(ctx context.Context, f fileState) (bool, error) {
	if ok, err := fs.present(ctx, f.Path, 0); err != nil || ok {
		return false, err
	}
	last, err := fs.get(ctx, f.Tail)
	if err != nil {
		return false, fmt.Errorf("%s: tail: %w", f.Path, err)
	}
	var inParts int64
	for _, p := range f.Parts {
		inParts += p.Size
	}
	if inParts+f.TailBytes != f.Size || int64(len(last)) < f.TailBytes+12 || !bytes.HasSuffix(last, []byte("PAR1")) {
		return false, fmt.Errorf("%s: the checkpoint says %d bytes, %d in parts and %d in the tail object, which has %d with the footer: not a checkpoint of the file",
			f.Path, f.Size, inParts, f.TailBytes, len(last))
	}
	p, err := fs.uploadPart(ctx, f.Path, f.Upload, int32(len(f.Parts)+1), last)
	if err != nil {
		return false, err
	}
	f.Size = inParts + int64(len(last))
	return fs.complete(ctx, f, append(slices.Clone(f.Parts), p))
}

// checkCommitted checks that the files of the entries exist. With
// r.Overwrite a missing one is dropped from its entry (an entry left with
// none is deleted).
func (fs *Files) checkCommitted(ctx context.Context, es []staging.LogEntry, r pipeline.Recovery) error {
	if len(es) == 0 {
		return nil
	}
	have, err := fs.list(ctx, "")
	if err != nil {
		return fmt.Errorf("s3out: recover %d: %w", r.ID, err)
	}
	for _, e := range es {
		var kept, gone []string
		for _, f := range e.Files {
			if _, ok := have[f]; ok {
				kept = append(kept, f)
			} else {
				gone = append(gone, f)
			}
		}
		if len(gone) == 0 {
			continue
		}
		if !r.Overwrite {
			return &refusal{err: staging.ErrMissing, msg: fmt.Sprintf("s3out: %s: committed file %s of checkpoint %d is missing (and %d more); restore it, or run with --overwrite to drop it from the commit log",
				fs.Location(), gone[0], e.Checkpoint, len(gone)-1)}
		}
		fs.forgotten += int64(len(gone))
		rel := path.Join(staging.LogDir, logName(e.Run, e.Checkpoint))
		if len(kept) == 0 {
			err = fs.del(ctx, rel)
		} else {
			e.Files = kept
			err = fs.putEntry(ctx, e, true)
		}
		if err != nil {
			return fmt.Errorf("s3out: recover %d: commit log: %w", r.ID, err)
		}
	}
	return nil
}

// sweep aborts the multipart uploads and deletes the temporary objects of
// the runs mine under the root.
func (fs *Files) sweep(ctx context.Context, mine map[string]bool) error {
	ofMine := func(base string) bool {
		n, err := staging.ParseName(base)
		return err == nil && !n.Staged && n.Ext == ext && mine[n.Run]
	}
	in := &s3.ListMultipartUploadsInput{Bucket: &fs.cfg.Bucket, Prefix: aws.String(fs.root + "/")}
	for {
		page, err := fs.cfg.Client.ListMultipartUploads(ctx, in)
		if isNoSuchUpload(err) {
			// gofakes3's answer for a bucket that never had an upload;
			// S3's is an empty list.
			break
		}
		if err != nil {
			return fmt.Errorf("list uploads: %w", err)
		}
		for _, u := range page.Uploads {
			rel := strings.TrimPrefix(aws.ToString(u.Key), fs.root+"/")
			if strings.HasPrefix(rel, staging.LogDir+"/") || !ofMine(path.Base(rel)) {
				continue
			}
			if err := fs.abort(ctx, rel, aws.ToString(u.UploadId)); err != nil {
				return err
			}
		}
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		in.KeyMarker, in.UploadIdMarker = page.NextKeyMarker, page.NextUploadIdMarker
	}
	tmp, err := fs.list(ctx, tmpDir+"/")
	if err != nil {
		return err
	}
	for rel := range tmp {
		base := strings.TrimSuffix(path.Base(rel), ".tail")
		i := strings.LastIndexByte(base, '.')
		if i < 0 || !strings.HasSuffix(rel, ".tail") || !ofMine(base[:i]) {
			continue
		}
		if err := fs.del(ctx, rel); err != nil {
			return err
		}
	}
	return nil
}

// unaccounted is the refusal to start over the entries es of r.Job.
func (fs *Files) unaccounted(r pipeline.Recovery, es []staging.LogEntry) error {
	var parts []string
	for _, e := range es {
		p := fmt.Sprintf("run %s checkpoint %d, %d files", e.Run, e.Checkpoint, len(e.Files))
		if e.Run == r.Run {
			p += fmt.Sprintf(" (newer than the restored checkpoint %d)", r.ID)
		}
		parts = append(parts, p)
	}
	return &refusal{err: staging.ErrUnaccounted, msg: fmt.Sprintf("s3out: %s holds output of job %q that its checkpoints do not account for (%s): "+
		"resume with the checkpoint directory that wrote it, or run with --overwrite to replace it", fs.Location(), r.Job, strings.Join(parts, "; "))}
}
