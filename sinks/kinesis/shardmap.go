package kinesis

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"math/big"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// hashKey is a 128-bit Kinesis hash key, big-endian, so that bytes.Compare
// orders hash keys.
type hashKey [16]byte

// partitionHash is the hash key Kinesis assigns to a partition key: the MD5
// of its UTF-8 bytes as an unsigned 128-bit integer.
func partitionHash(partitionKey string) hashKey { return md5.Sum([]byte(partitionKey)) }

func parseHashKey(s string) (hashKey, error) {
	var h hashKey
	v, ok := new(big.Int).SetString(s, 10)
	if !ok || v.Sign() < 0 || v.BitLen() > 128 {
		return h, fmt.Errorf("kinesis: bad hash key %q", s)
	}
	v.FillBytes(h[:])
	return h, nil
}

// shardRange is an open shard's hash-key range, both ends included.
type shardRange struct {
	id         string
	start, end hashKey
}

// shardMap maps hash keys to the stream's open shards.
type shardMap struct {
	ranges []shardRange // sorted by start
}

// lookup returns the open shard whose range holds partitionKey's hash.
func (m *shardMap) lookup(partitionKey string) (string, bool) {
	h := partitionHash(partitionKey)
	i, found := slices.BinarySearchFunc(m.ranges, h, func(r shardRange, h hashKey) int { return bytes.Compare(r.start[:], h[:]) })
	if !found {
		i-- // the last range starting below h
	}
	if i < 0 || bytes.Compare(h[:], m.ranges[i].end[:]) > 0 {
		return "", false
	}
	return m.ranges[i].id, true
}

// listShardMap lists the stream's open shards (paginated ListShards).
func listShardMap(ctx context.Context, api API, stream streamRef) (*shardMap, error) {
	m := &shardMap{}
	in := &kinesis.ListShardsInput{StreamName: stream.name, StreamARN: stream.arn}
	for {
		out, err := api.ListShards(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("kinesis: list shards: %w", err)
		}
		for _, s := range out.Shards {
			if s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil {
				continue // closed
			}
			if s.HashKeyRange == nil {
				return nil, fmt.Errorf("kinesis: shard %s has no hash key range", aws.ToString(s.ShardId))
			}
			start, err := parseHashKey(aws.ToString(s.HashKeyRange.StartingHashKey))
			if err != nil {
				return nil, err
			}
			end, err := parseHashKey(aws.ToString(s.HashKeyRange.EndingHashKey))
			if err != nil {
				return nil, err
			}
			m.ranges = append(m.ranges, shardRange{id: aws.ToString(s.ShardId), start: start, end: end})
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
	if len(m.ranges) == 0 {
		return nil, fmt.Errorf("kinesis: stream has no open shard")
	}
	slices.SortFunc(m.ranges, func(a, b shardRange) int { return bytes.Compare(a.start[:], b.start[:]) })
	return m, nil
}

// streamRef names the stream in requests: by ARN when configured with one,
// else by name.
type streamRef struct {
	name, arn *string
}

func newStreamRef(stream string) streamRef {
	if len(stream) > 4 && stream[:4] == "arn:" {
		return streamRef{arn: aws.String(stream)}
	}
	return streamRef{name: aws.String(stream)}
}
