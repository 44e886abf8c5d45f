package jobs

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/shardflow/shardflow/pipeline/checkpoint"
	"github.com/shardflow/shardflow/sinks/jsonl"
	"github.com/shardflow/shardflow/sinks/parquet"
	"github.com/shardflow/shardflow/sinks/s3out"
)

// Where a job's output goes: Env.OutDir is a local directory or an
// s3://BUCKET[/PREFIX] URL. On S3 the tables are written by sinks/s3out
// (one multipart upload per file, rolled by size and age) and the dead
// letters by the same jsonl sink as locally, through s3out.FS, under
// PREFIX/dead_letter/. The S3 client comes from the standard AWS
// configuration (s3out.NewClient).

// IsS3 reports whether out is an s3:// URL (good or bad) rather than a
// local directory.
func IsS3(out string) bool { return s3out.IsURL(out) }

// CheckOut checks an s3:// output location before any work; a local
// directory is not checked here. The error is one line that says what to
// write.
func CheckOut(out string) error {
	if !s3out.IsURL(out) {
		return nil
	}
	if _, err := s3out.ParseURL(out); err != nil {
		return fmt.Errorf("--out %w", err)
	}
	return nil
}

// OutPath is the location of name (a table, dead_letter) under out, for
// messages: a path, or an s3:// URL.
func OutPath(out, name string) string {
	if loc, err := s3out.ParseURL(out); err == nil {
		return loc.Join(name)
	}
	return filepath.Join(out, name)
}

// outputs are the sinks and the checkpoint store every ready-made job has.
type outputs struct {
	table *parquet.Sink
	dead  *jsonl.Sink
	ckpts *checkpoint.Dir
}

// standardOutputs makes the Parquet sink of table, the dead-letter sink and
// the checkpoint directory of env.
func standardOutputs(env Env, table string) (outputs, error) {
	var o outputs
	var err error
	if o.table, err = TableSink(env, parquet.Config{Table: table}); err != nil {
		return o, err
	}
	if o.dead, err = DeadLetterSink(env); err != nil {
		return o, err
	}
	if o.ckpts, err = checkpoint.NewDir(env.CheckpointDir, checkpoint.DirConfig{Logger: env.Logger}); err != nil {
		return o, fmt.Errorf("jobs: checkpoints: %w", err)
	}
	return o, nil
}

// TableSink returns the Parquet sink of cfg.Table under env.OutDir (cfg.Dir
// is set from it): on the local file system, or on S3 for an s3:// OutDir.
func TableSink(env Env, cfg parquet.Config) (*parquet.Sink, error) {
	cfg.Dir = env.OutDir
	if !s3out.IsURL(env.OutDir) {
		return parquet.New(cfg)
	}
	loc, err := s3out.ParseURL(env.OutDir)
	if err != nil {
		return nil, fmt.Errorf("jobs: --out %w", err)
	}
	client, err := s3out.NewClient(context.Background())
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	files, err := s3out.New(s3out.Config{Client: client, Bucket: loc.Bucket, Prefix: loc.Prefix, Table: cfg.Table})
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	return parquet.New(cfg, parquet.WithFiles(files))
}

// DeadLetterSink returns the sink of the dead letters, env.OutDir/dead_letter,
// locally or on S3.
func DeadLetterSink(env Env) (*jsonl.Sink, error) {
	if !s3out.IsURL(env.OutDir) {
		return jsonl.New(jsonl.Config{Dir: filepath.Join(env.OutDir, "dead_letter")})
	}
	loc, err := s3out.ParseURL(env.OutDir)
	if err != nil {
		return nil, fmt.Errorf("jobs: --out %w", err)
	}
	client, err := s3out.NewClient(context.Background())
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	fsys := s3out.NewFS(client, loc.Bucket)
	key := "dead_letter"
	if loc.Prefix != "" {
		key = loc.Prefix + "/dead_letter"
	}
	return jsonl.New(jsonl.Config{Dir: fsys.Root(key)}, jsonl.WithFS(fsys))
}
