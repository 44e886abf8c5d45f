package parquet

import (
	"context"
	"io"

	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sinks/staging"
)

// Files is where a Sink's Parquet files go: the local staging area
// (sinks/staging) by default, or another store given with WithFiles (package
// sinks/s3out puts them on S3). It does the two-phase commit of the files;
// the Sink encodes them. It is used by the sink's goroutine.
type Files interface {
	// Create opens file number seq of the partition directory dir
	// (dt=YYYY-MM-DD/hour=HH, relative to the table) for the checkpoint that
	// pre-commits next. It fails before Recover.
	Create(dir string, seq int) (File, error)
	// PreCommit makes the files durable and returns the handle of
	// checkpoint id; the sink has finished or checkpointed every file first.
	PreCommit(ctx context.Context, id uint64) ([]byte, error)
	Commit(ctx context.Context, id uint64, handle []byte) error
	Recover(ctx context.Context, r pipeline.Recovery) error
	// Close forgets the files that no pre-commit covers.
	Close(ctx context.Context) error
	Counters() map[string]int64
}

// File is one Parquet file being written.
type File interface {
	io.Writer
	// Path names the file in errors.
	Path() string
	// Finish is called once the footer is written: the file is complete
	// and is committed with the next checkpoint.
	Finish() error
}

// SpanningFile is a File that may stay open over checkpoints, so that a
// file holds more than one checkpoint's rows (the S3 store rolls files by
// size and age). At a checkpoint the sink asks Roll; a file that does not
// roll gets its open row group written and Checkpoint called with the
// footer that would end the file there.
type SpanningFile interface {
	File
	// Roll reports whether the file is to be finished at this checkpoint.
	Roll() bool
	// Full reports whether the file reached its roll size; the sink
	// finishes it after the row group that made it so.
	Full() bool
	// Checkpoint is called at PreCommit for a file that stays open: every
	// byte of its row groups so far has been written, and footer is the
	// Parquet footer (metadata, its length, "PAR1") that ends the file there.
	Checkpoint(footer []byte) error
}

// WithFiles makes the sink write its files to f instead of the local
// staging area under Config.Dir; Config.Dir then only names the output.
func WithFiles(f Files) Option { return func(s *Sink) { s.files = f } }

// localFiles is the default Files: a staging Area and its Committer.
type localFiles struct {
	staging.Committer
	area *staging.Area
}

func newLocalFiles(root string, fsys staging.FS) (*localFiles, error) {
	area, err := staging.NewArea(root, "parquet", fsys)
	if err != nil {
		return nil, err
	}
	return &localFiles{Committer: staging.NewCommitter("parquet", area), area: area}, nil
}

func (l *localFiles) Create(dir string, seq int) (File, error) {
	f, err := l.area.Create(dir, seq)
	if err != nil {
		return nil, err
	}
	return f, nil
}
