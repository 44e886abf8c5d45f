package kinesis

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// API is the part of the Kinesis API the source uses. *kinesis.Client
// satisfies it; tests use a fake.
type API interface {
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, optFns ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
}

var _ API = (*kinesis.Client)(nil)

// LoadClient returns a Kinesis client configured the standard AWS way
// (config.LoadDefaultConfig): region from AWS_REGION or the profile, the
// credential chain, AWS_PROFILE, AWS_ENDPOINT_URL and
// AWS_ENDPOINT_URL_KINESIS. optFns adjust the loading, e.g.
// config.WithRegion.
func LoadClient(ctx context.Context, optFns ...func(*config.LoadOptions) error) (*kinesis.Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx, optFns...)
	if err != nil {
		return nil, fmt.Errorf("kinesis: load AWS config: %w", err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("kinesis: no AWS region: set AWS_REGION or a profile's region")
	}
	return kinesis.NewFromConfig(cfg), nil
}

// ownRetries turns the SDK's retries off for one call: the reader retries with
// its own classifier and backoff, so that throttles and retries are counted
// and the 5 calls/s pacing holds.
func ownRetries(o *kinesis.Options) { o.RetryMaxAttempts = 1 }

// streamRef names the stream in requests: by ARN when configured with one, else
// by name.
type streamRef struct {
	name, arn *string
}

func newStreamRef(stream string) streamRef {
	if isARN(stream) {
		return streamRef{arn: aws.String(stream)}
	}
	return streamRef{name: aws.String(stream)}
}
