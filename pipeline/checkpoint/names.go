package checkpoint

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrInvalidJob is returned for a job name that cannot be a directory name
// under the store's root.
var ErrInvalidJob = errors.New("checkpoint: invalid job name")

const (
	ckptPrefix = "chk-"
	ckptSuffix = ".ckpt"
	idDigits   = 20 // len of math.MaxUint64 in decimal
	tmpPrefix  = ".chk-"
	tmpSuffix  = ".tmp"
	maxJobLen  = 255
)

// validateJob accepts a job name that is one plain path element.
func validateJob(job string) error {
	why := ""
	switch {
	case job == "":
		why = "empty"
	case len(job) > maxJobLen:
		why = fmt.Sprintf("longer than %d bytes", maxJobLen)
	case job == "." || job == "..":
		why = "a relative directory"
	case strings.ContainsAny(job, "/\\\x00"):
		why = "contains a path separator or NUL"
	case !filepath.IsLocal(job):
		why = "not a local file name on this system"
	default:
		return nil
	}
	return fmt.Errorf("%w %q: %s", ErrInvalidJob, job, why)
}

// fileName returns the name of checkpoint id's file.
func fileName(id uint64) string {
	return fmt.Sprintf("%s%0*d%s", ckptPrefix, idDigits, id, ckptSuffix)
}

// parseFileName returns the id of a checkpoint file's name.
func parseFileName(name string) (uint64, bool) {
	digits, ok := strings.CutPrefix(name, ckptPrefix)
	if !ok {
		return 0, false
	}
	if digits, ok = strings.CutSuffix(digits, ckptSuffix); !ok || len(digits) != idDigits {
		return 0, false
	}
	id, err := strconv.ParseUint(digits, 10, 64)
	return id, err == nil
}

// tempPattern is the os.CreateTemp pattern of checkpoint id's temporary file.
func tempPattern(id uint64) string {
	return fmt.Sprintf("%s%0*d-*%s", tmpPrefix, idDigits, id, tmpSuffix)
}

func isTempName(name string) bool {
	return strings.HasPrefix(name, tmpPrefix) && strings.HasSuffix(name, tmpSuffix)
}
