package staging

import (
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"
)

// handleVersion is the version of the handle's JSON format.
const handleVersion = 1

// Handle is what PreCommit returns, as JSON: the checkpoint and every file it
// staged, with the name it gets when committed. Paths are slash-separated and
// relative to the Area's root.
type Handle struct {
	Version int     `json:"v"`
	ID      uint64  `json:"id"`
	Files   []Entry `json:"files"`
}

// Entry is one staged file of a Handle.
type Entry struct {
	Staged string `json:"staged"`
	Final  string `json:"final"`
}

// ParseHandle decodes and checks a handle returned by PreCommit.
func ParseHandle(b []byte) (Handle, error) {
	var h Handle
	if err := json.Unmarshal(b, &h); err != nil {
		return Handle{}, fmt.Errorf("staging: handle: %w", err)
	}
	if h.Version != handleVersion {
		return Handle{}, fmt.Errorf("staging: handle version %d, want %d", h.Version, handleVersion)
	}
	for _, e := range h.Files {
		if !isLocal(e.Staged) || !isLocal(e.Final) || path.Dir(e.Staged) != path.Dir(e.Final) ||
			!IsStagedName(path.Base(e.Staged)) || IsStagedName(path.Base(e.Final)) {
			return Handle{}, fmt.Errorf("staging: handle: bad entry %q -> %q", e.Staged, e.Final)
		}
	}
	return h, nil
}

func isLocal(p string) bool {
	return p != "" && !path.IsAbs(p) && path.Clean(p) == p && p != ".." && !strings.HasPrefix(p, "../")
}

const (
	stagedPrefix = ".part-"
	stagedSuffix = ".pending"
)

// FinalName is the committed name of file seq of checkpoint id: part-<id:08d>-<seq:04d>.<ext>.
func FinalName(id uint64, seq int, ext string) string {
	return "part-" + pad(id, 8) + "-" + pad(uint64(seq), 4) + "." + ext
}

// StagedName is the staged name of file seq of checkpoint id: .part-<id:08d>-<seq:04d>.<ext>.pending.
func StagedName(id uint64, seq int, ext string) string {
	return "." + FinalName(id, seq, ext) + stagedSuffix
}

// IsStagedName reports whether base names a staged file.
func IsStagedName(base string) bool {
	return strings.HasPrefix(base, stagedPrefix) && strings.HasSuffix(base, stagedSuffix)
}

func pad(v uint64, width int) string {
	s := strconv.FormatUint(v, 10)
	if len(s) >= width {
		return s
	}
	return strings.Repeat("0", width-len(s)) + s
}
