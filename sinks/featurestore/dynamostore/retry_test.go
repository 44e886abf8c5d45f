package dynamostore

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/sinks/featurestore"
	"github.com/shardflow/shardflow/sinks/featurestore/storetest"
)

// throttling is an HTTP client that answers the first n PutItem requests
// with DynamoDB's ProvisionedThroughputExceededException and passes every
// other request to next.
type throttling struct {
	next dynamodb.HTTPClient

	mu        sync.Mutex
	n         int // PutItems still to refuse
	refused   int
	forwarded int
}

func (c *throttling) Do(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".PutItem") {
		c.mu.Lock()
		refuse := c.n > 0
		if refuse {
			c.n--
			c.refused++
		} else {
			c.forwarded++
		}
		c.mu.Unlock()
		if refuse {
			body := `{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded."}`
			return &http.Response{
				StatusCode: http.StatusBadRequest, Status: "400 Bad Request", Request: r,
				Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}, "X-Amzn-Requestid": {"throttled"}},
				Body:   io.NopCloser(bytes.NewReader([]byte(body))), ContentLength: int64(len(body)),
			}, nil
		}
	}
	return c.next.Do(r)
}

// openThrottled opens a store whose PutItems the returned client refuses,
// with the SDK's own retries off, so that what retries is the store.
func openThrottled(t *testing.T, srv *testenv.DynamoDBServer) (*Store, *throttling) {
	t.Helper()
	c := &throttling{}
	s, err := Open(context.Background(), freshTable(t, ""), storetest.View("v", 0), srv.DynamoDBOptions(t), func(o *dynamodb.Options) {
		c.next = o.HTTPClient
		o.HTTPClient = c
		o.RetryMaxAttempts = 1
	})
	if err != nil {
		t.Fatal(err)
	}
	s.backoff = time.Millisecond
	return s, c
}

func TestPutRetriesThrottled(t *testing.T) {
	srv := testenv.Dynalite(t)
	s, c := openThrottled(t, srv)
	ctx := context.Background()
	c.mu.Lock()
	c.n = 5
	c.mu.Unlock()
	row := storetest.Row("u", 1000, 1)
	if err := s.Put(ctx, []featurestore.Row{row}); err != nil {
		t.Fatalf("Put with 5 throttled attempts: %v", err)
	}
	if c.refused != 5 || c.forwarded != 1 {
		t.Errorf("%d PutItems refused and %d sent on, want 5 and 1", c.refused, c.forwarded)
	}
	got, err := s.Get(ctx, []string{"u"})
	if err != nil || got[0] == nil || got[0].EventTime != 1000 {
		t.Fatalf("Get = %v, %v; want the row", got, err)
	}

	// A table throttled for longer than the retries fails the Put, saying so.
	c.mu.Lock()
	c.n, c.refused, c.forwarded = 1000, 0, 0
	c.mu.Unlock()
	err = s.Put(ctx, []featurestore.Row{storetest.Row("u", 2000, 2)})
	if err == nil || !strings.Contains(err.Error(), "ProvisionedThroughputExceeded") {
		t.Fatalf("Put while throttled for good: %v, want the throttling error", err)
	}
	if c.refused != putRetries+1 || c.forwarded != 0 {
		t.Errorf("%d PutItems refused, %d sent on; want %d and 0", c.refused, c.forwarded, putRetries+1)
	}
}
