// Package ckptfmt is shardflow's on-disk checkpoint format: a versioned,
// checksummed, compact binary encoding of a pipeline.Checkpoint.
//
// # Layout (version 5)
//
// All fixed-width integers are big-endian.
//
//	offset  size  field
//	0       4     magic "SFCK"
//	4       2     format version (5; Decode also reads 1 to 4)
//	6       8     payload length P
//	14      P     payload
//	14+P    4     CRC-32C (Castagnoli) of bytes [0, 14+P)
//
// The payload is a sequence of fields without tags, in this order. "uvarint"
// and "varint" are encoding/binary's varints; a "string" or "bytes" is a
// uvarint length followed by that many bytes.
//
//	uvarint  ID
//	string   Job
//	string   Fingerprint
//	string   Run                       (version 2 only)
//	uvarint  Epoch                     (version 2 only)
//	bytes    Source                    (version 2 only)
//	varint   Created, Unix seconds
//	uvarint  Created, nanoseconds within the second (< 1e9)
//	varint   Watermark
//	uvarint  number of shards, then per shard, sorted by shard ID:
//	  string   shard ID
//	  string   Position.Seq
//	  varint   Position.N
//	  byte     flags (bit 0: Finished; the other bits must be zero)
//	  uvarint  number of parents, then that many strings
//	  varint   MaxEventTime
//	  varint   Arrival                 (version 4 and later)
//	  bytes    Keyed                   (version 3 and later)
//	  uvarint  number of local states  (version 5 and later), then per
//	           state, sorted by stage name:
//	    string   stage name
//	    bytes    state
//	uvarint  number of operator states, then per state, sorted by name:
//	  string   stage name
//	  bytes    state
//	uvarint  number of sink handles, then per handle, sorted by name:
//	  string   sink name
//	  bytes    handle
//
// Version 4 is the same without the shards' Local states; version 3 also
// without their Arrival; version 2 also without their Keyed state; version 1
// also without Run, Epoch and Source; Decode returns them empty and zero for
// them. The payload must be consumed exactly. Operator state and sink handles are
// stored as raw bytes, so a checkpoint with 10 MB of window state costs 10 MB
// on disk, not 13.3 MB of base64. Encoding is deterministic: the same
// checkpoint always yields the same bytes.
//
// # What survives a round trip
//
// Decode(Encode(cp)) equals cp except that Created comes back in UTC without
// a monotonic clock reading, the three maps come back non-nil (empty when cp
// had none), and an empty Source, Parents, Keyed, Local, states and handles come back nil
// (an empty state inside a non-empty Local too).
//
// # Hostile input
//
// Decode never panics, and it allocates at most about twenty times the
// input's size (a shard entry of six bytes becomes a map entry of about a
// hundred): every length and count is checked against the bytes that remain
// before anything is allocated for it. It checks, in order, the length of the
// fixed header, the magic, the version, the payload length, the checksum, and
// then the payload's structure, and reports the first failure with one of the
// sentinel errors (ErrBadMagic, ErrUnsupportedVersion, ErrTruncated,
// ErrChecksum, ErrMalformed), wrapped with detail.
//
// Any change to the payload's fields is a new Version; a build reads the
// versions from OldestVersion to Version and refuses the others with a
// *VersionError, whose message for a newer version says to upgrade.
package ckptfmt
