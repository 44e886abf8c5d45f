package s3out_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sinks/parquet"
	"github.com/shardflow/shardflow/sinks/s3out"
)

const (
	bucket = "lake"
	prefix = "out"
	table  = "events"
	root   = prefix + "/" + table + "/"
	// base is 2026-03-01T22:00:00Z.
	base = int64(1772402400000)
)

var schema = arrow.NewSchema([]arrow.Field{
	{Name: "window_start", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "payload", Type: arrow.BinaryTypes.String},
}, nil)

// rowTime spreads n rows evenly over three hours, in order.
func rowTime(i, n int) int64 { return base + int64(i)*3*3600_000/int64(n) }

// batch is rows [first, first+k) of a table of n rows; payload adds pad
// bytes of incompressible text per row.
func batch(mem memory.Allocator, first, k, n, pad int) *pipeline.Batch {
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	rng := rand.New(rand.NewPCG(uint64(first), 7))
	buf := make([]byte, pad)
	for i := first; i < first+k; i++ {
		b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(rowTime(i, n)))
		b.Field(1).(*array.Int64Builder).Append(int64(i))
		for j := range buf {
			buf[j] = byte('a' + rng.IntN(26))
		}
		b.Field(2).(*array.StringBuilder).Append(string(buf))
	}
	return &pipeline.Batch{Rec: b.NewRecordBatch(), Shard: "s"}
}

type sinkOpts struct {
	rollSize int64
	rollAge  time.Duration
	now      func() time.Time
	rgRows   int
	client   s3out.API
}

func newSink(t *testing.T, srv *testenv.S3, o sinkOpts) (*parquet.Sink, *s3out.Files) {
	t.Helper()
	var client s3out.API = srv.Client
	if o.client != nil {
		client = o.client
	}
	files, err := s3out.New(s3out.Config{Client: client, Bucket: bucket, Prefix: prefix, Table: table,
		RollSize: o.rollSize, RollAge: o.rollAge, Now: o.now})
	if err != nil {
		t.Fatal(err)
	}
	rg := o.rgRows
	if rg == 0 {
		rg = 1000
	}
	s, err := parquet.New(parquet.Config{Dir: "s3://" + bucket + "/" + prefix, Table: table, RowGroupRows: rg, Compression: "none"}, parquet.WithFiles(files))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Bind(schema); err != nil {
		t.Fatal(err)
	}
	return s, files
}

// tableRows downloads the table and reads it with parquet-go (a reader
// other than the writer's): the id of every row, with how often it occurs.
func tableRows(t *testing.T, srv *testenv.S3) map[int64]int {
	t.Helper()
	dir := t.TempDir()
	srv.Download(t, bucket, root, dir)
	ids := make(map[int64]int)
	for _, row := range testenv.ParquetRows(t, dir) {
		// "<dir> [<ts> <id> <payload>]"
		f := strings.Fields(strings.Trim(strings.SplitN(row, " ", 2)[1], "[]"))
		var id int64
		if _, err := fmt.Sscan(f[1], &id); err != nil {
			t.Fatalf("row %q: %v", row, err)
		}
		ids[id]++
	}
	return ids
}

// parquetKeys are the table's data objects.
func parquetKeys(t *testing.T, srv *testenv.S3) []string {
	var out []string
	for _, k := range srv.Keys(t, bucket, root) {
		if strings.HasSuffix(k, ".parquet") && !strings.Contains(k, "/_shardflow/") {
			out = append(out, k)
		}
	}
	return out
}

func tmpKeys(t *testing.T, srv *testenv.S3) []string {
	return srv.Keys(t, bucket, root+"_shardflow/tmp/")
}

func recoverSink(t *testing.T, s *parquet.Sink, id uint64, h []byte) {
	t.Helper()
	if err := s.Recover(context.Background(), pipeline.Recovery{Job: "j", Run: "r1", Epoch: 1, ID: id, Handle: h}); err != nil {
		t.Fatal(err)
	}
}

func pipelineRecovery(job, run string, id uint64, h []byte) pipeline.Recovery {
	return pipeline.Recovery{Job: job, Run: run, Epoch: 1, ID: id, Handle: h}
}

// partChecker is the server's client, checking what S3 enforces and
// gofakes3 does not: every part of a completed upload but the last has at
// least 5 MiB.
type partChecker struct {
	s3out.API
	t     *testing.T
	mu    sync.Mutex
	sizes map[string]int64 // upload id and part number -> size
	parts int              // parts completed
}

func (c *partChecker) UploadPart(ctx context.Context, in *s3.UploadPartInput, opts ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	out, err := c.API.UploadPart(ctx, in, opts...)
	if err == nil {
		c.mu.Lock()
		c.sizes[fmt.Sprint(*in.UploadId, "/", *in.PartNumber)] = *in.ContentLength
		c.mu.Unlock()
	}
	return out, err
}

func (c *partChecker) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	c.mu.Lock()
	parts := in.MultipartUpload.Parts
	for i, p := range parts[:max(len(parts)-1, 0)] {
		size := c.sizes[fmt.Sprint(*in.UploadId, "/", *p.PartNumber)]
		if size < s3out.MinPartSize {
			c.t.Errorf("%s: part %d (%d of %d) has %d bytes, below S3's minimum", *in.Key, *p.PartNumber, i+1, len(parts), size)
		}
	}
	c.parts += len(parts)
	c.mu.Unlock()
	return c.API.CompleteMultipartUpload(ctx, in, opts...)
}
