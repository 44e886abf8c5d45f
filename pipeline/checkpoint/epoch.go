package checkpoint

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
)

// The EPOCH file holds a job's current fencing epoch as one line of text:
//
//	SFEPOCH 1 <epoch, decimal> <CRC-32C of the text before it, 8 hex digits>\n
//
// "1" is the file's format version. Anything else (a bad checksum, a version
// this build does not know, trailing bytes) is damage, reported as such and
// never read as epoch 0.
const (
	epochName    = "EPOCH"
	epochMagic   = "SFEPOCH"
	epochVersion = 1
	epochTemp    = ".chk-epoch-*.tmp" // a temporary file, as isTempName sees it
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func encodeEpoch(epoch uint64) []byte {
	body := fmt.Sprintf("%s %d %d", epochMagic, epochVersion, epoch)
	return fmt.Appendf(nil, "%s %08x\n", body, crc32.Checksum([]byte(body), castagnoli))
}

func decodeEpoch(b []byte) (uint64, error) {
	line, ok := strings.CutSuffix(string(b), "\n")
	f := strings.Split(line, " ")
	if !ok || len(f) != 4 || f[0] != epochMagic {
		return 0, fmt.Errorf("not an epoch file (%d bytes)", len(b))
	}
	if v, err := strconv.ParseUint(f[1], 10, 16); err != nil || v != epochVersion {
		if err == nil && v > epochVersion {
			return 0, fmt.Errorf("format version %d, written by a newer shardflow; upgrade", v)
		}
		return 0, fmt.Errorf("unknown format version %q", f[1])
	}
	epoch, err := strconv.ParseUint(f[2], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad epoch %q", f[2])
	}
	body := strings.Join(f[:3], " ")
	if sum := fmt.Sprintf("%08x", crc32.Checksum([]byte(body), castagnoli)); sum != f[3] {
		return 0, fmt.Errorf("checksum mismatch: stored %s, computed %s", f[3], sum)
	}
	if string(encodeEpoch(epoch)) != string(b) { // e.g. leading zeros
		return 0, fmt.Errorf("not in canonical form")
	}
	return epoch, nil
}

// readEpoch returns the epoch in job's EPOCH file; 0 and an error wrapping
// fs.ErrNotExist when there is none.
func (d *Dir) readEpoch(job string) (uint64, error) {
	path := filepath.Join(d.jobDir(job), epochName)
	b, err := d.fs.ReadFile(path)
	if err != nil {
		return 0, err // an *fs.PathError names the file
	}
	epoch, err := decodeEpoch(b)
	if err != nil {
		return 0, &epochError{path: path, err: err}
	}
	return epoch, nil
}

// epochError reports a damaged EPOCH file.
type epochError struct {
	path string
	err  error
}

func (e *epochError) Error() string {
	return fmt.Sprintf("the epoch file %s is damaged (%v); restore it, or, if no other shardflow runs the job, "+
		"remove it: the next epoch then follows the newest checkpoint's", e.path, e.err)
}

func (e *epochError) Unwrap() error { return e.err }

// writeEpoch makes epoch the content of job's EPOCH file, durably.
func (d *Dir) writeEpoch(job string, epoch uint64) error {
	return d.writeAtomic(d.jobDir(job), epochTemp, epochName, encodeEpoch(epoch), false)
}

// isNotExist reports whether err says that a file is missing.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
