package staging

import (
	"fmt"
	"strconv"
	"strings"
)

const (
	stagedPrefix = ".part-"
	stagedSuffix = ".pending"
	maxRunLen    = 32
)

// ValidateRun checks a run id (pipeline.Recovery.Run): 1 to 32 characters of
// [a-z0-9-], so that it can go into file names.
func ValidateRun(run string) error {
	if run == "" || len(run) > maxRunLen {
		return fmt.Errorf("staging: run id %q: want 1 to %d characters", run, maxRunLen)
	}
	for _, c := range run {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("staging: run id %q: want only [a-z0-9-]", run)
		}
	}
	return nil
}

// FinalName is the committed name of file seq of checkpoint id of run:
// part-<run>-<id:08d>-<seq:04d>.<ext>. No other run produces it, and the same
// run always does, so a retried commit overwrites the same file.
func FinalName(run string, id uint64, seq int, ext string) string {
	return "part-" + run + "-" + pad(id, 8) + "-" + pad(uint64(seq), 4) + "." + ext
}

// StagedName is the staged name of the same file:
// .part-<run>-<id:08d>-<seq:04d>.<ext>.pending.
func StagedName(run string, id uint64, seq int, ext string) string {
	return "." + FinalName(run, id, seq, ext) + stagedSuffix
}

// IsStagedName reports whether base names a staged file.
func IsStagedName(base string) bool {
	return strings.HasPrefix(base, stagedPrefix) && strings.HasSuffix(base, stagedSuffix)
}

// Name is a parsed file name of an Area (see ParseName).
type Name struct {
	Run        string // "" for a name written before names carried runs
	Checkpoint uint64
	Seq        int
	Ext        string
	Staged     bool
}

// ParseName parses a base name made by FinalName or StagedName. It also
// accepts the form without a run, part-<ckpt>-<seq>.<ext>, that names had
// before: the handles of old checkpoints list such names and must still
// commit. Run is then "".
func ParseName(base string) (Name, error) {
	var n Name
	rest := base
	if IsStagedName(rest) {
		n.Staged = true
		rest = strings.TrimSuffix(strings.TrimPrefix(rest, "."), stagedSuffix)
	}
	bad := func(why string) (Name, error) {
		return Name{}, fmt.Errorf("staging: file name %q: %s", base, why)
	}
	rest, ok := strings.CutPrefix(rest, "part-")
	if !ok {
		return bad("want part-<run>-<checkpoint>-<seq>.<ext>")
	}
	stem, ext, ok := strings.Cut(rest, ".")
	if !ok || ext == "" || strings.ContainsAny(ext, `/\`) {
		return bad("no extension")
	}
	n.Ext = ext
	i := strings.LastIndexByte(stem, '-')
	if i < 0 || !digits(stem[i+1:], 4, 4) {
		return bad("want a 4-digit sequence number")
	}
	seq, _ := strconv.Atoi(stem[i+1:])
	n.Seq = seq
	stem = stem[:i]
	ckpt := stem
	if i = strings.LastIndexByte(stem, '-'); i >= 0 {
		ckpt, n.Run = stem[i+1:], stem[:i]
		if err := ValidateRun(n.Run); err != nil {
			return bad(err.Error())
		}
	}
	if !digits(ckpt, 8, 20) {
		return bad("want a checkpoint of at least 8 digits")
	}
	var err error
	if n.Checkpoint, err = strconv.ParseUint(ckpt, 10, 64); err != nil {
		return bad(err.Error())
	}
	return n, nil
}

// digits reports whether s is min to max decimal digits.
func digits(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func pad(v uint64, width int) string {
	s := strconv.FormatUint(v, 10)
	if len(s) >= width {
		return s
	}
	return strings.Repeat("0", width-len(s)) + s
}
