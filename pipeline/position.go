package pipeline

import "strconv"

// Position addresses one record inside one shard. Only the shard's source
// interprets it; positions of different shards are never compared.
//
// Offset-addressed sources use N alone, as the offset just past the record: a
// file's byte offset after the record's line, the generator's count of events
// up to and including the record. Resuming after N is then seeking to N, and
// the first record's position is never the zero Position.
//
// Kinesis uses Seq, the record's sequence number (a decimal of up to 128
// bits), and N, the index of a user record inside a KPL aggregate, counting
// from 0 as KPL sub-sequence numbers do. (Seq, 0) is therefore either a plain
// record or the first user record of an aggregate: the Kinesis source resumes
// AT the sequence number and skips what the position covers, so a checkpoint
// may fall inside an aggregate.
//
// The zero Position means "before the first record, from the source's
// configured start" (the start of a file; latest, trim_horizon or a
// timestamp for Kinesis). Earliest means "before the first record that the
// shard still holds", whatever the configured start: the runtime gives it to
// shards that appear after the job's first listing of its source (the
// children of a Kinesis split or merge, a file created later), because
// every record of such a shard is new to the job. This is the Kinesis Client
// Library's rule (a child shard starts at TRIM_HORIZON), and Earliest is
// spelled as KCL's checkpoint sentinel.
type Position struct {
	Seq string `json:"seq,omitempty"`
	N   int64  `json:"n"`
}

// Earliest is the position before the first record a shard holds; see Position.
var Earliest = Position{Seq: "TRIM_HORIZON"}

// IsEarliest reports whether p is Earliest.
func (p Position) IsEarliest() bool { return p == Earliest }

// IsStart reports whether p is before every record of its shard: the zero
// Position or Earliest. Offset-addressed sources, whose configured start is
// the beginning of the shard, treat the two alike.
func (p Position) IsStart() bool { return p.IsZero() || p.IsEarliest() }

// OffsetPosition returns the position of an offset-addressed record.
func OffsetPosition(off int64) Position { return Position{N: off} }

// IsZero reports whether p is the start of a shard.
func (p Position) IsZero() bool { return p.Seq == "" && p.N == 0 }

// String renders p for logs and dead letters: "1234" for an offset,
// "49590338271490256608559692538361571095921575989136588898/3" for a Kinesis
// sub-record, and the bare sequence number when the sub-sequence is 0.
func (p Position) String() string {
	switch {
	case p.Seq == "":
		return strconv.FormatInt(p.N, 10)
	case p.N == 0:
		return p.Seq
	default:
		return p.Seq + "/" + strconv.FormatInt(p.N, 10)
	}
}
