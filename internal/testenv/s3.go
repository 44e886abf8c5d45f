package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// S3 is an S3 server (gofakes3, in memory, in the test's process) on a port
// of 127.0.0.1 that it owns: it listens on port 0 and serves that listener.
// Its log is printed when the test fails.
type S3 struct {
	// Endpoint is the server's URL, for AWS_ENDPOINT_URL_S3.
	Endpoint string
	// Client is a path-style client of the server.
	Client *s3.Client

	backend *s3mem.Backend
}

// StartS3 starts an S3 server with the given buckets; it stops when the test
// ends.
func StartS3(t testing.TB, buckets ...string) *S3 {
	t.Helper()
	backend := s3mem.New()
	for _, b := range buckets {
		if err := backend.CreateBucket(b); err != nil {
			t.Fatalf("testenv: s3: create bucket %s: %v", b, err)
		}
	}
	logs := &s3Log{}
	faker := gofakes3.New(backend, gofakes3.WithLogger(logs), gofakes3.WithAutoBucket(false))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: s3: listen: %v", err)
	}
	srv := &http.Server{Handler: faker.Server()}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("testenv: s3: serve: %v", err)
		}
		if t.Failed() {
			t.Logf("testenv: s3 server log:\n%s", logs.String())
		}
	})
	endpoint := "http://" + ln.Addr().String()
	client := s3.New(s3.Options{
		Region:                     "us-east-1",
		BaseEndpoint:               aws.String(endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider("test", "test", ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	return &S3{Endpoint: endpoint, Client: client, backend: backend}
}

// Env sets the environment of the AWS SDK's default configuration to reach
// the server, for the rest of the test (and of processes it starts).
func (s *S3) Env(t testing.TB) []string {
	env := []string{
		"AWS_ENDPOINT_URL_S3=" + s.Endpoint,
		"AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return env
}

// Objects returns the keys under prefix in bucket with their sizes.
func (s *S3) Objects(t testing.TB, bucket, prefix string) map[string]int64 {
	t.Helper()
	out := make(map[string]int64)
	p := s3.NewListObjectsV2Paginator(s.Client, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("testenv: s3: list %s/%s: %v", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			out[aws.ToString(o.Key)] = aws.ToInt64(o.Size)
		}
	}
	return out
}

// Keys returns the sorted keys under prefix in bucket.
func (s *S3) Keys(t testing.TB, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	for k := range s.Objects(t, bucket, prefix) {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Uploads returns the keys of the multipart uploads in progress under prefix.
func (s *S3) Uploads(t testing.TB, bucket, prefix string) []string {
	t.Helper()
	out, err := s.Client.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: &bucket, Prefix: &prefix})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchUpload" {
		return nil // gofakes3: the bucket never had an upload
	}
	if err != nil {
		t.Fatalf("testenv: s3: list uploads: %v", err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	slices.Sort(keys)
	return keys
}

// Get returns the object's content.
func (s *S3) Get(t testing.TB, bucket, key string) []byte {
	t.Helper()
	out, err := s.Client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatalf("testenv: s3: get %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("testenv: s3: get %s/%s: %v", bucket, key, err)
	}
	return b
}

// Download copies the objects under prefix into dir, each to the path of its
// key below prefix, so that a local reader (DuckDB, ParquetRows) sees what
// the server stores.
func (s *S3) Download(t testing.TB, bucket, prefix, dir string) {
	t.Helper()
	for key := range s.Objects(t, bucket, prefix) {
		rel := strings.TrimPrefix(strings.TrimPrefix(key, prefix), "/")
		if rel == "" || strings.Contains(rel, "..") {
			t.Fatalf("testenv: s3: key %q under %q", key, prefix)
		}
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, s.Get(t, bucket, key), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// s3Log collects the server's log.
type s3Log struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *s3Log) Print(level gofakes3.LogLevel, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.buf, "%s %s\n", level, fmt.Sprint(v...))
}

func (l *s3Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
