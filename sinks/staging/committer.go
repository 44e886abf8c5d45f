package staging

import (
	"context"
	"fmt"

	"github.com/shardflow/shardflow/pipeline"
)

// Committer is what the two-phase commit of a file sink does with its Area
// alone. A sink embeds it for Commit and Recover, which count what they do,
// and defines PreCommit and Close itself: it finishes or forgets its encoders
// and then calls the Committer's, which pre-commit or abort the area. Errors
// carry the sink's prefix ("jsonl: ...").
type Committer struct {
	area   *Area
	prefix string

	committed int64  // files renamed
	commits   int64  // checkpoints with files committed
	last      uint64 // the last checkpoint counted in commits
	removed   int64  // files deleted by Recover: with Overwrite, or replaced by a replay
	forgotten int64  // missing files dropped from the log by Recover with Overwrite
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

// Commit implements pipeline.Committer: it records the handle's files in the
// commit log and renames them to their final names (Area.Commit).
// Committing a handle again is harmless.
func (c *Committer) Commit(ctx context.Context, id uint64, handle []byte) error {
	n, err := c.area.Commit(ctx, id, handle)
	c.committed += int64(n)
	if err != nil {
		return fmt.Errorf("%s: %w", c.prefix, err)
	}
	if h, perr := ParseHandle(handle); perr == nil && len(h.Files) > 0 {
		c.countCommit(id)
	}
	return nil
}

// Recover implements pipeline.Committer (see Area.Recover): it refuses
// output that the restored checkpoint does not account for (or replaces it
// with r.Overwrite), commits the handle again and deletes the staged files
// that it does not own.
func (c *Committer) Recover(ctx context.Context, r pipeline.Recovery) error {
	res, err := c.area.Recover(ctx, r)
	c.committed += int64(res.Renamed)
	c.removed += int64(res.Removed)
	c.forgotten += int64(res.Forgotten)
	if err != nil {
		return fmt.Errorf("%s: %w", c.prefix, err)
	}
	if res.Committed {
		c.countCommit(r.ID)
	}
	return nil
}

func (c *Committer) countCommit(id uint64) {
	if c.commits == 0 || id > c.last {
		c.commits++
		c.last = id
	}
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

// Commits is the number of checkpoints whose files Commit or Recover
// committed, each counted once however often it was committed; checkpoints
// without files do not count.
func (c *Committer) Commits() int64 { return c.commits }

// Counters returns the Committer's counters under the names the file sinks
// report (pipeline.CounterReporter): files_committed, commits, and
// files_overwritten and files_forgotten for what Recover did with
// pipeline.Recovery.Overwrite.
func (c *Committer) Counters() map[string]int64 {
	return map[string]int64{
		"files_committed":   c.committed,
		"commits":           c.commits,
		"files_overwritten": c.removed,
		"files_forgotten":   c.forgotten,
	}
}
