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
// The zero Position means "before the first record".
type Position struct {
	Seq string `json:"seq,omitempty"`
	N   int64  `json:"n"`
}

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
