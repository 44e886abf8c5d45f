package kinesis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/shardflow/shardflow/pipeline"
)

func TestConfigValidate(t *testing.T) {
	api := newFake()
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" for valid
	}{
		{"minimal", Config{Stream: "s", Client: api}, ""},
		{"arn", Config{Stream: "arn:aws:kinesis:us-east-1:123456789012:stream/clicks", Client: api}, ""},
		{"bad arn", Config{Stream: "arn:aws:s3:::bucket", Client: api}, "not a stream ARN"},
		{"no stream", Config{Client: api}, "no stream"},
		{"no client", Config{Stream: "s"}, "no client"},
		{"latest", Config{Stream: "s", Client: api, Start: "latest"}, ""},
		{"at timestamp", Config{Stream: "s", Client: api, Start: "at_timestamp:2026-11-30T10:00:00Z"}, ""},
		{"bad timestamp", Config{Stream: "s", Client: api, Start: "at_timestamp:yesterday"}, "at_timestamp:yesterday"},
		{"bad start", Config{Stream: "s", Client: api, Start: "earliest"}, "want trim_horizon"},
		{"too many records", Config{Stream: "s", Client: api, MaxRecordsPerCall: 10001}, "max records"},
		{"share above 1", Config{Stream: "s", Client: api, ReadShare: 1.5}, "read share"},
		{"negative share", Config{Stream: "s", Client: api, ReadShare: -0.1}, "read share"},
		{"negative poll", Config{Stream: "s", Client: api, PollInterval: -1}, "poll interval"},
		{"backoff range", Config{Stream: "s", Client: api, MinBackoff: 10, MaxBackoff: 5}, "backoff"},
		{"empty StopAt", Config{Stream: "s", Client: api, StopAt: &StopAt{}}, "StopAt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if _, err := New(context.Background(), tt.cfg); err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "kinesis: ") {
				t.Fatalf("Validate = %v, want an error about %q", err, tt.want)
			}
			if _, err := New(context.Background(), tt.cfg); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

func TestIsRetryable(t *testing.T) {
	op := func(err error) error {
		return fmt.Errorf("wrapped: %w", &smithy.OperationError{ServiceID: "Kinesis", OperationName: "GetRecords", Err: err})
	}
	status := func(code int) error {
		return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}}, Err: errors.New("boom")}
	}
	tests := []struct {
		name                         string
		err                          error
		retryable, throttle, expired bool
	}{
		{"nil", nil, false, false, false},
		{"throughput exceeded", op(&types.ProvisionedThroughputExceededException{}), true, true, false},
		{"limit exceeded", op(&types.LimitExceededException{}), true, true, false},
		{"kms throttling", op(&types.KMSThrottlingException{}), true, true, false},
		{"generic api throttle", op(&smithy.GenericAPIError{Code: "ThrottlingException"}), true, true, false},
		{"internal failure", op(&types.InternalFailureException{}), true, false, false},
		{"expired iterator", op(&types.ExpiredIteratorException{}), false, false, true},
		{"not found", op(&types.ResourceNotFoundException{}), false, false, false},
		{"invalid argument", op(&types.InvalidArgumentException{}), false, false, false},
		{"access denied", op(&types.AccessDeniedException{}), false, false, false},
		{"kms disabled", op(&types.KMSDisabledException{}), false, false, false},
		{"503", op(status(503)), true, false, false},
		{"500", op(status(500)), true, false, false},
		{"400", op(status(400)), false, false, false},
		{"connection reset", op(&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}), true, false, false},
		{"connection refused", op(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), true, false, false},
		{"unexpected EOF", op(io.ErrUnexpectedEOF), true, false, false},
		{"call timeout", op(context.DeadlineExceeded), true, false, false},
		{"canceled", op(context.Canceled), false, false, false},
		{"plain error", errors.New("boom"), false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsRetryable(tt.err); got != tt.retryable {
				t.Errorf("IsRetryable = %v, want %v", got, tt.retryable)
			}
			if got := IsThrottle(tt.err); got != tt.throttle {
				t.Errorf("IsThrottle = %v, want %v", got, tt.throttle)
			}
			if got := IsExpiredIterator(tt.err); got != tt.expired {
				t.Errorf("IsExpiredIterator = %v, want %v", got, tt.expired)
			}
		})
	}
}

func TestShardsPaginated(t *testing.T) {
	api := newFake(
		&fakeShard{id: "shardId-0", closed: true},
		&fakeShard{id: "shardId-1", closed: true},
		&fakeShard{id: "shardId-2"},
		&fakeShard{id: "shardId-3", parent: "shardId-0"},
		&fakeShard{id: "shardId-4", parent: "shardId-0"},
		&fakeShard{id: "shardId-5", parent: "shardId-1", adjacent: "shardId-3"},
	)
	api.pageSize = 2
	throttled := false
	api.fail = func(op string, n int) error {
		if n == 2 && !throttled { // the second page is throttled once
			throttled = true
			return &types.LimitExceededException{Message: aws.String("slow down")}
		}
		return nil
	}
	src, err := New(context.Background(), Config{Stream: "s", Client: api, MinBackoff: 1, MaxBackoff: 1})
	if err != nil {
		t.Fatal(err)
	}
	got, err := src.Shards(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []pipeline.Shard{
		{ID: "shardId-0"}, {ID: "shardId-1"}, {ID: "shardId-2"},
		{ID: "shardId-3", Parents: []string{"shardId-0"}},
		{ID: "shardId-4", Parents: []string{"shardId-0"}},
		{ID: "shardId-5", Parents: []string{"shardId-1", "shardId-3"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Shards = %v, want %v", got, want)
	}
	if n := len(api.callsOf("ListShards")); n != 4 {
		t.Errorf("%d ListShards calls, want 4 (3 pages, 1 retry)", n)
	}
	if src.Bounded() || src.Name() != "kinesis" {
		t.Errorf("Bounded %v Name %q", src.Bounded(), src.Name())
	}
}

func TestShardsByARN(t *testing.T) {
	api := newFake(&fakeShard{id: "shardId-0"})
	arn := "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"
	src, err := New(context.Background(), Config{Stream: arn, Client: api})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Shards(context.Background()); err != nil {
		t.Fatal(err)
	}
	in := api.callsOf("ListShards")[0].in.(*kinesis.ListShardsInput)
	if aws.ToString(in.StreamARN) != arn || in.StreamName != nil {
		t.Fatalf("ListShards by name %v and ARN %v, want the ARN only", in.StreamName, in.StreamARN)
	}
}

func TestOpenShardRejects(t *testing.T) {
	src, err := New(context.Background(), Config{Stream: "s", Client: newFake()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		shard pipeline.Shard
		after pipeline.Position
	}{
		{pipeline.Shard{}, pipeline.Position{}},
		{pipeline.Shard{ID: "shardId-0"}, pipeline.Position{N: 3}},
		{pipeline.Shard{ID: "shardId-0"}, pipeline.Position{Seq: "12a"}},
	} {
		if r, err := src.OpenShard(context.Background(), tt.shard, tt.after); err == nil {
			r.Close()
			t.Errorf("OpenShard(%v, %v) accepted", tt.shard, tt.after)
		}
	}
}

func TestCompareSeq(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1", "2", -1}, {"10", "9", 1}, {"0010", "10", 0},
		{"49590338271490256608559692538361571095921575989136588898", "49590338271490256608559692538361571095921575989136588899", -1},
		{"349590338271490256608559692538361571095921575989136588898", "49590338271490256608559692538361571095921575989136588899", 1},
	}
	for _, tt := range tests {
		if got := compareSeq(tt.a, tt.b); got != tt.want {
			t.Errorf("compareSeq(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
