package staging

import (
	"encoding/json"
	"fmt"
	"path"
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
		if !validEntry(e, h.ID) {
			return Handle{}, fmt.Errorf("staging: handle: bad entry %q -> %q", e.Staged, e.Final)
		}
	}
	return h, nil
}

// validEntry reports whether e renames a staged file to the final name of
// checkpoint id of the same run and sequence, in the same directory. (The
// staged name carries the checkpoint expected when the file was created,
// which the coordinator may have skipped.)
func validEntry(e Entry, id uint64) bool {
	if !isLocal(e.Staged) || !isLocal(e.Final) || path.Dir(e.Staged) != path.Dir(e.Final) {
		return false
	}
	s, err := ParseName(path.Base(e.Staged))
	if err != nil || !s.Staged || s.Checkpoint > id {
		return false
	}
	f, err := ParseName(path.Base(e.Final))
	if err != nil || f.Staged || f.Checkpoint != id {
		return false
	}
	return f.Run == s.Run && f.Seq == s.Seq && f.Ext == s.Ext
}

func isLocal(p string) bool {
	return p != "" && !path.IsAbs(p) && path.Clean(p) == p && p != ".." && !strings.HasPrefix(p, "../")
}
