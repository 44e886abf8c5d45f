package kinesiserr

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Kinds of failures, as Kind names them: few and fixed, so that a metric
// labelled by kind stays small.
const (
	KindConnection      = "connection"       // refused, reset, broken mid-answer, DNS
	KindThrottled       = "throttled"        // a rate limit was exceeded
	KindExpiredIterator = "expired_iterator" // the shard iterator expired
	KindServerError     = "server_error"     // the service failed (5xx, internal failure)
	KindTimeout         = "timeout"          // one call got no answer in time
	KindOther           = "other"
)

// Kinds lists every kind Kind returns, for metrics that start at zero.
var Kinds = []string{KindConnection, KindThrottled, KindExpiredIterator, KindServerError, KindTimeout, KindOther}

// Kind classifies a failed call into one of Kinds; "" for nil.
func Kind(err error) string {
	switch {
	case err == nil:
		return ""
	case IsThrottle(err):
		return KindThrottled
	case IsExpiredIterator(err):
		return KindExpiredIterator
	case isTimeout(err):
		return KindTimeout
	case isConnection(err):
		return KindConnection
	}
	switch Code(err) {
	case InternalFailure, InternalFailureException, "InternalServerError", "ServiceUnavailable", "ServiceUnavailableException":
		return KindServerError
	}
	if re, ok := errors.AsType[*smithyhttp.ResponseError](err); ok && re.HTTPStatusCode() >= 500 {
		return KindServerError
	}
	return KindOther
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	ne, ok := errors.AsType[net.Error](err)
	return ok && ne.Timeout()
}

func isConnection(err error) bool {
	if _, ok := errors.AsType[*net.OpError](err); ok {
		return true
	}
	if _, ok := errors.AsType[*net.DNSError](err); ok {
		return true
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// Describe names the cause of a failed call in a few words: the network
// error for a connection that failed ("dial tcp 127.0.0.1:4567: connect:
// connection refused"), "Code: message" for an answer of the service, else
// the whole error. The SDK's own wrapping (operation, request id, URL) is
// left out; the error itself keeps it.
func Describe(err error) string {
	if err == nil {
		return ""
	}
	if oe, ok := errors.AsType[*net.OpError](err); ok {
		return oe.Error()
	}
	if de, ok := errors.AsType[*net.DNSError](err); ok {
		return de.Error()
	}
	if ae, ok := errors.AsType[smithy.APIError](err); ok {
		if msg := ae.ErrorMessage(); msg != "" {
			return ae.ErrorCode() + ": " + msg
		}
		return ae.ErrorCode()
	}
	return err.Error()
}
