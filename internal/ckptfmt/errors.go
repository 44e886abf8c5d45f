package ckptfmt

import (
	"errors"
	"fmt"
)

// Sentinel errors of Decode. Decode wraps them with detail, so test with
// errors.Is.
var (
	// ErrBadMagic: the input does not start with the checkpoint magic; it is
	// not a checkpoint file at all.
	ErrBadMagic = errors.New("ckptfmt: bad magic")
	// ErrUnsupportedVersion: the input is a checkpoint of a format version this
	// build does not read. The error is a *VersionError.
	ErrUnsupportedVersion = errors.New("ckptfmt: unsupported version")
	// ErrTruncated: the input ends before the header, the payload or the
	// checksum does.
	ErrTruncated = errors.New("ckptfmt: truncated input")
	// ErrChecksum: the CRC-32C stored in the input does not match its content.
	ErrChecksum = errors.New("ckptfmt: checksum mismatch")
	// ErrMalformed: the checksum matches but the payload is not a valid
	// encoding (trailing bytes, impossible counts, duplicate keys). Only a
	// broken or hostile writer produces this.
	ErrMalformed = errors.New("ckptfmt: malformed payload")
)

// VersionError reports a checkpoint written in a format version this build
// cannot read. errors.Is(err, ErrUnsupportedVersion) holds for it.
type VersionError struct {
	Got uint16 // the version stored in the input
}

func (e *VersionError) Error() string {
	if e.Got > Version {
		return fmt.Sprintf("ckptfmt: format version %d, written by a newer shardflow; upgrade (this build reads versions %d to %d)",
			e.Got, OldestVersion, Version)
	}
	return fmt.Sprintf("ckptfmt: unsupported version %d (this build reads versions %d to %d)", e.Got, OldestVersion, Version)
}

// Unwrap makes errors.Is(err, ErrUnsupportedVersion) hold.
func (e *VersionError) Unwrap() error { return ErrUnsupportedVersion }
