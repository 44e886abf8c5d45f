package s3out

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/shardflow/shardflow/sinks/staging"
)

// The commit log is the local sink's (package sinks/staging), as objects:
// <root>/_shardflow/commit-<run>-<ckpt:08d>.parquet.json holds a
// staging.LogEntry and <root>/_shardflow/run-<run>.parquet.json registers a
// run of a job. A PUT of an object is atomic, so no temporary object is
// needed.

func logName(run string, id uint64) string {
	return "commit-" + run + "-" + pad8(id) + "." + ext + ".json"
}

func runName(run string) string { return "run-" + run + "." + ext + ".json" }

type runEntry struct {
	Version int    `json:"version"`
	Job     string `json:"job"`
	Run     string `json:"run"`
}

// register writes the registration of the run, once, before its first upload.
func (fs *Files) register(ctx context.Context) error {
	if fs.registered {
		return nil
	}
	b, err := json.Marshal(runEntry{Version: 1, Job: fs.job, Run: fs.run})
	if err != nil {
		return err
	}
	if err := fs.put(ctx, path.Join(staging.LogDir, runName(fs.run)), b); err != nil {
		return fmt.Errorf("s3out: commit log: register run %s: %w", fs.run, err)
	}
	fs.registered = true
	return nil
}

// putEntry writes e, unless it exists and rewrite is unset.
func (fs *Files) putEntry(ctx context.Context, e staging.LogEntry, rewrite bool) error {
	rel := path.Join(staging.LogDir, logName(e.Run, e.Checkpoint))
	if !rewrite {
		ok, err := fs.present(ctx, rel, 0)
		if err != nil || ok {
			return err
		}
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return fs.put(ctx, rel, b)
}

func (fs *Files) put(ctx context.Context, rel string, b []byte) error {
	_, err := fs.cfg.Client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &fs.cfg.Bucket, Key: aws.String(fs.key(rel)), Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b))),
	})
	if err != nil {
		return fmt.Errorf("put %s: %w", rel, err)
	}
	return nil
}

func (fs *Files) get(ctx context.Context, rel string) ([]byte, error) {
	out, err := fs.cfg.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: &fs.cfg.Bucket, Key: aws.String(fs.key(rel))})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", rel, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", rel, err)
	}
	return b, nil
}

// list returns the keys (relative to the root) under the relative prefix
// dir, with their sizes.
func (fs *Files) list(ctx context.Context, dir string) (map[string]int64, error) {
	out := make(map[string]int64)
	p := s3.NewListObjectsV2Paginator(fs.cfg.Client, &s3.ListObjectsV2Input{Bucket: &fs.cfg.Bucket, Prefix: aws.String(fs.key(dir))})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", fs.key(dir), err)
		}
		for _, o := range page.Contents {
			out[strings.TrimPrefix(aws.ToString(o.Key), fs.root+"/")] = aws.ToInt64(o.Size)
		}
	}
	return out, nil
}

// readLog returns the commit entries (of every job, sorted by job, run and
// checkpoint) and the registered runs' jobs.
func (fs *Files) readLog(ctx context.Context) ([]staging.LogEntry, map[string]string, error) {
	keys, err := fs.list(ctx, staging.LogDir+"/")
	if err != nil {
		return nil, nil, fmt.Errorf("s3out: commit log: %w", err)
	}
	var log []staging.LogEntry
	runs := make(map[string]string)
	for rel := range keys {
		dir, base := path.Split(rel)
		if dir != staging.LogDir+"/" {
			continue
		}
		if run, id, ok := parseLogName(base); ok {
			b, err := fs.get(ctx, rel)
			if err != nil {
				return nil, nil, fmt.Errorf("s3out: commit log: %w", err)
			}
			var e staging.LogEntry
			if err := json.Unmarshal(b, &e); err != nil {
				return nil, nil, fmt.Errorf("s3out: commit log %s: %w", fs.key(rel), err)
			}
			if e.Version != 1 || e.Run != run || e.Checkpoint != id || e.Job == "" {
				return nil, nil, fmt.Errorf("s3out: commit log %s: not the entry of run %q checkpoint %d", fs.key(rel), run, id)
			}
			for _, f := range e.Files {
				n, err := staging.ParseName(path.Base(f))
				if err != nil || !localPath(f) || n.Staged || n.Ext != ext || n.Checkpoint > id {
					return nil, nil, fmt.Errorf("s3out: commit log %s: bad file %q", fs.key(rel), f)
				}
			}
			log = append(log, e)
			continue
		}
		stem, ok := strings.CutPrefix(base, "run-")
		if !ok {
			continue
		}
		if stem, ok = strings.CutSuffix(stem, "."+ext+".json"); !ok || staging.ValidateRun(stem) != nil {
			continue
		}
		b, err := fs.get(ctx, rel)
		if err != nil {
			return nil, nil, fmt.Errorf("s3out: commit log: %w", err)
		}
		var e runEntry
		if err := json.Unmarshal(b, &e); err != nil || e.Run != stem || e.Job == "" {
			return nil, nil, fmt.Errorf("s3out: commit log %s: not the registration of run %q", fs.key(rel), stem)
		}
		runs[e.Run] = e.Job
	}
	slices.SortFunc(log, func(x, y staging.LogEntry) int {
		if c := strings.Compare(x.Job, y.Job); c != 0 {
			return c
		}
		if c := strings.Compare(x.Run, y.Run); c != 0 {
			return c
		}
		return cmp.Compare(x.Checkpoint, y.Checkpoint)
	})
	return log, runs, nil
}

func parseLogName(base string) (run string, id uint64, ok bool) {
	stem, ok := strings.CutPrefix(base, "commit-")
	if !ok {
		return "", 0, false
	}
	if stem, ok = strings.CutSuffix(stem, "."+ext+".json"); !ok {
		return "", 0, false
	}
	i := strings.LastIndexByte(stem, '-')
	if i < 0 || staging.ValidateRun(stem[:i]) != nil {
		return "", 0, false
	}
	id, err := strconv.ParseUint(stem[i+1:], 10, 64)
	return stem[:i], id, err == nil && len(stem[i+1:]) >= 8
}

func (fs *Files) del(ctx context.Context, rel string) error {
	_, err := fs.cfg.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &fs.cfg.Bucket, Key: aws.String(fs.key(rel))})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("delete %s: %w", rel, err)
	}
	return nil
}

func isNoSuchUpload(err error) bool {
	var nsu *types.NoSuchUpload
	if errors.As(err, &nsu) {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "NoSuchUpload"
}

func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	var nf *types.NotFound
	var nsk *types.NoSuchKey
	if errors.As(err, &nf) || errors.As(err, &nsk) {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "NotFound" || ae.ErrorCode() == "NoSuchKey")
}
