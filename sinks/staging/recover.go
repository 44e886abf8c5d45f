package staging

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/shardflow/shardflow/pipeline"
)

var (
	// ErrUnaccounted is wrapped by Recover's error when the area's root holds
	// committed output of the job that the restored checkpoint does not
	// account for: another run's, or a checkpoint's newer than the restored
	// one (a lost checkpoint).
	ErrUnaccounted = errors.New("staging: the output holds files that the job's checkpoints do not account for")
	// ErrMissing is wrapped by Recover's error when a file that the restored
	// checkpoints committed is gone.
	ErrMissing = errors.New("staging: a committed file is missing")
)

// refusal is an error with its own one-line message that wraps a sentinel.
type refusal struct {
	msg string
	err error
}

func (r *refusal) Error() string { return r.msg }
func (r *refusal) Unwrap() error { return r.err }

// Recovered is what Recover did.
type Recovered struct {
	// Renamed is the number of files of the restored handle that Recover
	// renamed to their final names.
	Renamed int
	// Committed is set when the restored handle listed files (all of them
	// committed now).
	Committed bool
	// Removed is the number of committed files that Recover deleted: with
	// r.Overwrite, those of commits that the restored checkpoint does not
	// account for; with r.Replay, those of the replay's earlier starts.
	Removed int
	// Forgotten is the number of missing committed files that Recover
	// dropped from the commit log with r.Overwrite.
	Forgotten int
}

// Recover prepares the area for run r.Run of job r.Job, restored at
// checkpoint r.ID, and makes the output hold exactly what that checkpoint
// accounts for. In order, and before it touches anything, it reads the
// commit log and
//
//   - refuses, with an error wrapping pipeline.ErrFenced, when an entry of the
//     job and run has an epoch greater than r.Epoch (a newer process writes
//     this output; r.Epoch 0, a job without a checkpoint store, skips this);
//   - refuses, with an error wrapping ErrUnaccounted, when entries of the job
//     are of another run, or of r.Run with a checkpoint greater than r.ID.
//     With r.Overwrite it deletes exactly the files those entries list, and
//     the entries, durably. With r.Replay, the entries of r.Run newer than
//     r.ID are the replay's own, from an earlier start: deleted likewise,
//     without Overwrite. Entries and files of other jobs are never touched.
//
// Then it commits r.Handle again (writing its log entry if missing), checks
// that every file of the accounted entries exists (a missing one is an error
// wrapping ErrMissing; with r.Overwrite it is dropped from its entry
// instead), and deletes every staged file of the area's extension that the
// handle does not own: what a crash left behind. Files created afterwards
// belong to run r.Run and checkpoint r.ID+1.
func (a *Area) Recover(ctx context.Context, r pipeline.Recovery) (Recovered, error) {
	var out Recovered
	if err := ValidateRun(r.Run); err != nil {
		return out, fmt.Errorf("staging: recover %d: %w", r.ID, err)
	}
	if r.Job == "" {
		return out, fmt.Errorf("staging: recover %d: no job name", r.ID)
	}
	if err := ctx.Err(); err != nil {
		return out, fmt.Errorf("staging: recover %d: %w", r.ID, err)
	}
	var h Handle
	if len(r.Handle) > 0 {
		var err error
		if h, err = a.parseHandle(ctx, "recover", r.ID, r.Handle); err != nil {
			return out, err
		}
	}
	log, err := a.ReadLog()
	if err != nil {
		return out, err
	}
	runs, err := a.readRuns()
	if err != nil {
		return out, err
	}
	acc, err := Account("staging: "+a.root, log, runs, r)
	if err != nil {
		return out, err
	}
	accounted, mine := acc.Accounted, acc.Runs
	if len(acc.Foreign) > 0 && !r.Overwrite {
		return out, a.unaccounted(r, acc.Foreign)
	}
	if drop := acc.Dropped(r); len(drop) > 0 {
		if out.Removed, err = a.removeCommits(drop); err != nil {
			return out, fmt.Errorf("staging: recover %d: replace: %w", r.ID, err)
		}
	}
	a.job, a.run, a.epoch = r.Job, r.Run, r.Epoch
	a.registered = runs[r.Run] == r.Job
	owned := make(map[string]bool)
	if len(h.Files) > 0 {
		for _, e := range h.Files {
			owned[e.Staged] = true
		}
		var listed map[string]bool // the files of the handle's entry, if the log has it
		for _, e := range accounted {
			if e.Checkpoint == r.ID {
				listed = make(map[string]bool, len(e.Files))
				for _, f := range e.Files {
					listed[f] = true
				}
			}
		}
		if h, err = a.present(h, listed, r); err != nil {
			return out, err
		}
		if out.Renamed, err = a.commit(r.ID, h, false); err != nil {
			return out, err
		}
		out.Committed = true
	}
	if out.Forgotten, err = a.checkCommitted(accounted, r); err != nil {
		return out, err
	}
	if err := a.removeStaged(".", owned, mine); err != nil {
		return out, fmt.Errorf("staging: recover %d: %w", r.ID, err)
	}
	if r.ID+1 > a.next {
		a.next = r.ID + 1
	}
	return out, nil
}

// present returns h without the files that are missing under both names.
// Without r.Overwrite a missing file is an error, unless the handle's log
// entry (listed, nil when the log has none) no longer lists it: an earlier
// Recover with Overwrite forgot it.
func (a *Area) present(h Handle, listed map[string]bool, r pipeline.Recovery) (Handle, error) {
	kept := make([]Entry, 0, len(h.Files))
	for _, e := range h.Files {
		ok, err := a.exists(e.Staged)
		if err == nil && !ok {
			ok, err = a.exists(e.Final)
		}
		switch {
		case err != nil:
			return h, fmt.Errorf("staging: recover %d: %w", r.ID, err)
		case ok:
			kept = append(kept, e)
		case !r.Overwrite && (listed == nil || listed[e.Final]):
			return h, a.missing(e.Final, h.ID, 0)
		}
	}
	h.Files = kept
	return h, nil
}

// checkCommitted checks that every file of the entries exists. With
// r.Overwrite a missing file is dropped from its entry (an entry left with
// no file is deleted) and counted; without, it is an error.
func (a *Area) checkCommitted(es []LogEntry, r pipeline.Recovery) (int, error) {
	forgotten := 0
	var empty []LogEntry
	for _, e := range es {
		var kept, gone []string
		for _, f := range e.Files {
			ok, err := a.exists(f)
			if err != nil {
				return forgotten, fmt.Errorf("staging: recover %d: %w", r.ID, err)
			}
			if ok {
				kept = append(kept, f)
			} else {
				gone = append(gone, f)
			}
		}
		if len(gone) == 0 {
			continue
		}
		if !r.Overwrite {
			return forgotten, a.missing(gone[0], e.Checkpoint, len(gone)-1)
		}
		forgotten += len(gone)
		if len(kept) == 0 {
			empty = append(empty, e)
			continue
		}
		e.Files = kept
		if err := a.writeEntry(e); err != nil {
			return forgotten, fmt.Errorf("staging: recover %d: commit log: %w", r.ID, err)
		}
	}
	if err := a.removeEntries(empty); err != nil {
		return forgotten, fmt.Errorf("staging: recover %d: commit log: %w", r.ID, err)
	}
	return forgotten, nil
}

func (a *Area) missing(file string, id uint64, more int) error {
	also := ""
	if more > 0 {
		also = fmt.Sprintf(" (and %d more %s of it)", more, plural(more, "file"))
	}
	return &refusal{err: ErrMissing, msg: fmt.Sprintf("staging: %s: committed file %s of checkpoint %d is missing%s; restore it, or run with --overwrite to drop it from the commit log",
		a.root, file, id, also)}
}

// unaccounted is the refusal to start over the entries es of r.Job.
func (a *Area) unaccounted(r pipeline.Recovery, es []LogEntry) error {
	var parts []string
	for i := 0; i < len(es); {
		j, files := i, 0
		var ids []uint64
		for ; j < len(es) && es[j].Run == es[i].Run; j++ {
			ids = append(ids, es[j].Checkpoint)
			files += len(es[j].Files)
		}
		p := "run " + es[i].Run + ", " + checkpointList(ids)
		if es[i].Run == r.Run {
			p += fmt.Sprintf(" (newer than the restored checkpoint %d)", r.ID)
		}
		parts = append(parts, fmt.Sprintf("%s, %d %s", p, files, plural(files, "file")))
		i = j
	}
	return &refusal{err: ErrUnaccounted, msg: fmt.Sprintf("staging: %s holds output of job %q that its checkpoints do not account for (%s): "+
		"resume with the checkpoint directory that wrote it, or run with --overwrite to replace it", a.root, r.Job, strings.Join(parts, "; "))}
}

// checkpointList formats sorted ids as "checkpoint 3" or "checkpoints 1-4, 7".
func checkpointList(ids []uint64) string {
	var b strings.Builder
	for i := 0; i < len(ids); {
		j := i
		for j+1 < len(ids) && ids[j+1] == ids[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatUint(ids[i], 10))
		if j > i {
			b.WriteString("-" + strconv.FormatUint(ids[j], 10))
		}
		i = j + 1
	}
	if len(ids) == 1 {
		return "checkpoint " + b.String()
	}
	return "checkpoints " + b.String()
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// removeCommits deletes the files of the entries and then the entries,
// durably, and returns the number of files it deleted.
func (a *Area) removeCommits(es []LogEntry) (int, error) {
	removed := 0
	dirs := make(map[string]bool)
	for _, e := range es {
		for _, f := range e.Files {
			err := a.fs.Remove(a.osPath(f))
			switch {
			case err == nil:
				removed++
				dirs[path.Dir(f)] = true
			case !errors.Is(err, fs.ErrNotExist):
				return removed, err
			}
		}
	}
	if err := a.syncDirs(dirs); err != nil {
		return removed, err
	}
	return removed, a.removeEntries(es)
}

// exists reports whether the file rel (relative to the root) exists.
func (a *Area) exists(rel string) (bool, error) {
	_, err := a.fs.Stat(a.osPath(rel))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, err
}

// Accounting is a commit log sorted for the Recover of r (Account).
type Accounting struct {
	// Accounted are the entries that the restored checkpoint accounts for:
	// of r.Job and r.Run, no newer than r.ID.
	Accounted []LogEntry
	// Own are, with r.Replay, the entries of r.Run newer than r.ID: an
	// earlier start's of the same replay, which Recover replaces.
	Own []LogEntry
	// Foreign are the other entries of r.Job, which Recover refuses or,
	// with r.Overwrite, deletes: another run's, or (without r.Replay) a
	// newer checkpoint's of r.Run.
	Foreign []LogEntry
	// Runs are the runs of r.Job, by the log and the runs' registrations,
	// r.Run included: their staged files are the job's leftovers.
	Runs map[string]bool
}

// Dropped is what Recover deletes: Own, and Foreign with r.Overwrite.
func (a Accounting) Dropped(r pipeline.Recovery) []LogEntry {
	if r.Overwrite {
		return append(slices.Clip(a.Own), a.Foreign...)
	}
	return a.Own
}

// Account sorts the entries of a commit log (log; runs maps each run's
// registration to its job) for the Recover of r, as Area.Recover does and
// other areas of the same layout (an S3 table) do too. An entry of r.Run
// with a greater epoch than r.Epoch that the checkpoint accounts for
// (every one without r.Replay) is refused with an error wrapping
// pipeline.ErrFenced: a newer process writes this output. where starts the
// error ("staging: /out/page_stats").
func Account(where string, log []LogEntry, runs map[string]string, r pipeline.Recovery) (Accounting, error) {
	acc := Accounting{Runs: map[string]bool{r.Run: true}}
	for run, job := range runs {
		if job == r.Job {
			acc.Runs[run] = true
		}
	}
	for _, e := range log {
		if e.Job != r.Job {
			continue
		}
		acc.Runs[e.Run] = true
		mine, newer := e.Run == r.Run, e.Checkpoint > r.ID
		switch {
		case mine && newer && r.Replay:
			acc.Own = append(acc.Own, e)
		case mine && r.Epoch != 0 && e.Epoch > r.Epoch:
			return acc, fmt.Errorf("%s: checkpoint %d of run %s was committed by a process with epoch %d, this one has %d: a newer process writes this output: %w",
				where, e.Checkpoint, e.Run, e.Epoch, r.Epoch, pipeline.ErrFenced)
		case mine && !newer:
			acc.Accounted = append(acc.Accounted, e)
		default:
			acc.Foreign = append(acc.Foreign, e)
		}
	}
	return acc, nil
}
