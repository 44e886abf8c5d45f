package kinesiserr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func op(err error) error {
	return fmt.Errorf("wrapped: %w", &smithy.OperationError{ServiceID: "Kinesis", OperationName: "GetRecords", Err: err})
}

var refused = op(&net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4567}, Err: &syscallError{syscall.ECONNREFUSED}})

// syscallError stands in for *os.SyscallError ("connect: connection refused").
type syscallError struct{ errno syscall.Errno }

func (e *syscallError) Error() string { return "connect: " + e.errno.Error() }
func (e *syscallError) Unwrap() error { return e.errno }

func TestKindAndDescribe(t *testing.T) {
	status := func(code int) error {
		return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}}, Err: errors.New("boom")}
	}
	tests := []struct {
		err      error
		kind     string
		describe string
	}{
		{refused, KindConnection, "dial tcp 127.0.0.1:4567: connect: connection refused"},
		{op(&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}), KindConnection, "read tcp: connection reset by peer"},
		{op(io.ErrUnexpectedEOF), KindConnection, ""},
		{op(&types.ProvisionedThroughputExceededException{Message: new("Rate exceeded for shard")}), KindThrottled,
			"ProvisionedThroughputExceededException: Rate exceeded for shard"},
		{op(&types.ExpiredIteratorException{}), KindExpiredIterator, "ExpiredIteratorException"},
		{op(&types.InternalFailureException{}), KindServerError, ""},
		{op(status(503)), KindServerError, ""},
		{op(context.DeadlineExceeded), KindTimeout, ""},
		{op(&types.ResourceNotFoundException{}), KindOther, ""},
		{nil, "", ""},
	}
	for _, tt := range tests {
		if got := Kind(tt.err); got != tt.kind {
			t.Errorf("Kind(%v) = %q, want %q", tt.err, got, tt.kind)
		}
		if got := Describe(tt.err); tt.describe != "" && got != tt.describe {
			t.Errorf("Describe(%v) = %q, want %q", tt.err, got, tt.describe)
		}
	}
}

func TestGaveUp(t *testing.T) {
	err := fmt.Errorf("list shards: %w", GaveUp(12, time.Now().Add(-30*time.Second), refused, context.DeadlineExceeded))
	want := "list shards: giving up after 12 attempts over 30s: last error: dial tcp 127.0.0.1:4567: connect: connection refused"
	if err.Error() != want {
		t.Errorf("got %q\nwant %q", err, want)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Error("the context's error or the last failure is not wrapped")
	}
	if IsRetryable(err) {
		t.Error("a caller that gave up is retryable")
	}
	if err := GaveUp(1, time.Now(), nil, context.Canceled); err != context.Canceled {
		t.Errorf("without a failure GaveUp = %v, want the context's error", err)
	}
}

// TestStreak: a streak is reported at its third failure, again when the kind
// changes or after ReportEvery, and its end only when it was reported.
func TestStreak(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	throttle := op(&types.ProvisionedThroughputExceededException{})
	var s Streak
	var reports []int
	for i := range 10 {
		err := refused
		if i == 6 {
			err = throttle // the kind changes
		}
		if s.Fail(at(time.Duration(i)*time.Second), err) {
			reports = append(reports, i+1)
		}
	}
	if s.Fail(at(5*time.Minute+7*time.Second), throttle) { // ReportEvery after the report of the 7th
		reports = append(reports, 11)
	}
	if got := fmt.Sprint(reports); got != "[3 7 8 11]" {
		t.Errorf("reported at failures %s, want [3 7 8 11]", got) // 8: refused again after the throttle
	}
	lasted, n, reported := s.Succeed(at(6 * time.Minute))
	if lasted != 6*time.Minute || n != 11 || !reported {
		t.Errorf("Succeed = %v, %d, %v", lasted, n, reported)
	}
	if s.Failures() != 0 || s.Reported() {
		t.Error("the streak did not end")
	}
	s.Fail(at(7*time.Minute), refused)
	s.Fail(at(7*time.Minute), refused)
	if _, _, reported := s.Succeed(at(8 * time.Minute)); reported {
		t.Error("two failures were reported")
	}
	if !strings.Contains(Describe(refused), "connection refused") {
		t.Error(Describe(refused))
	}
}
