package staging

import (
	"context"
	"fmt"

	"github.com/shardflow/shardflow/pipeline"
)

// Committer is what the two-phase commit of a file sink does with its Area
// alone. A sink embeds it for Commit and Recover, which count the files they
// rename, and defines PreCommit and Close itself: it finishes or forgets its
// encoders and then calls the Committer's, which pre-commit or abort the
// area. Errors carry the sink's prefix ("jsonl: ...").
type Committer struct {
	area      *Area
	prefix    string
	committed int64
}

// NewCommitter returns the Committer of area for a sink whose errors start
// with prefix + ": ".
func NewCommitter(prefix string, area *Area) Committer {
	return Committer{area: area, prefix: prefix}
}

// PreCommit pre-commits the area (see Area.PreCommit) once the sink has
// flushed its files, and returns the handle.
func (c *Committer) PreCommit(ctx context.Context, id uint64) ([]byte, error) {
	h, err := c.area.PreCommit(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.prefix, err)
	}
	return h, nil
}

// Commit implements pipeline.Committer: it renames the handle's files to
// their final names. Committing a handle again is harmless.
func (c *Committer) Commit(ctx context.Context, id uint64, handle []byte) error {
	return c.count(c.area.Commit(ctx, id, handle))
}

// Recover implements pipeline.Committer: it commits the handle again and
// deletes the staged files that it does not own.
func (c *Committer) Recover(ctx context.Context, r pipeline.Recovery) error {
	return c.count(c.area.Recover(ctx, r))
}

// count adds the n files renamed, also by a commit that failed halfway.
func (c *Committer) count(n int, err error) error {
	c.committed += int64(n)
	if err != nil {
		return fmt.Errorf("%s: %w", c.prefix, err)
	}
	return nil
}

// Close deletes the staged files that no pre-commit covers (Area.Abort).
// Pre-committed files stay for Commit or Recover.
func (c *Committer) Close(context.Context) error {
	if err := c.area.Abort(); err != nil {
		return fmt.Errorf("%s: close: %w", c.prefix, err)
	}
	return nil
}

// FilesCommitted is the number of files that Commit and Recover renamed.
func (c *Committer) FilesCommitted() int64 { return c.committed }
