package s3out_test

import (
	"strings"
	"testing"

	"github.com/shardflow/shardflow/sinks/s3out"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in, bucket, prefix, err string
	}{
		{in: "s3://lake", bucket: "lake"},
		{in: "s3://lake/", bucket: "lake"},
		{in: "s3://lake/a/b", bucket: "lake", prefix: "a/b"},
		{in: "s3://my.lake-1/tables/", bucket: "my.lake-1", prefix: "tables"},
		{in: "s3://Lake/a", err: `bucket "Lake" is not a valid bucket name`},
		{in: "s3://la/a", err: `bucket "la" is not a valid bucket name`},
		{in: "s3://-lake/a", err: `bucket "-lake" is not a valid bucket name`},
		{in: "s3://", err: `bucket "" is not a valid bucket name`},
		{in: "s3://lake/a//b", err: "empty path segment"},
		{in: "s3://lake/a/../b", err: "'.' or '..' in the prefix"},
		{in: "s3://lake/a?x=1", err: "no user, port, query or fragment"},
		{in: "S3://lake/a", err: "the scheme is s3, in lower case"},
		{in: "/tmp/out", err: "not an s3:// URL"},
	} {
		loc, err := s3out.ParseURL(tc.in)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasSuffix(err.Error(), "want s3://BUCKET or s3://BUCKET/PREFIX") {
				t.Errorf("ParseURL(%q) = %v, %v; want an error with %q", tc.in, loc, err, tc.err)
			}
		case err != nil || loc.Bucket != tc.bucket || loc.Prefix != tc.prefix:
			t.Errorf("ParseURL(%q) = %+v, %v; want bucket %q prefix %q", tc.in, loc, err, tc.bucket, tc.prefix)
		}
	}
	if loc, _ := s3out.ParseURL("s3://lake/a"); loc.Join("t") != "s3://lake/a/t" || loc.String() != "s3://lake/a" {
		t.Errorf("Join, String: %q, %q", loc.Join("t"), loc.String())
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []s3out.Config{
		{Bucket: "b", Table: "t"},                      // no client
		{Client: fakeAPI{}, Table: "t"},                // no bucket
		{Client: fakeAPI{}, Bucket: "b", Table: "_t"},  // hidden table
		{Client: fakeAPI{}, Bucket: "b", Table: "a/b"}, // not one segment
		{Client: fakeAPI{}, Bucket: "b", Table: "t", Prefix: "/p"},
		{Client: fakeAPI{}, Bucket: "b", Table: "t", PartSize: 1 << 20}, // below S3's minimum
	}
	for i, c := range bad {
		if _, err := s3out.New(c); err == nil {
			t.Errorf("config %d %+v: no error", i, c)
		}
	}
	if _, err := s3out.New(s3out.Config{Client: fakeAPI{}, Bucket: "b", Table: "t", Prefix: "p/q"}); err != nil {
		t.Fatal(err)
	}
}

// fakeAPI stands in where no call is made.
type fakeAPI struct{ s3out.API }

// NewClient takes the standard AWS configuration, and says what is missing.
func TestNewClientWantsARegion(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_PROFILE", "")
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "SHARDFLOW_S3_PATH_STYLE"} {
		t.Setenv(k, "")
	}
	if _, err := s3out.NewClient(t.Context()); err == nil || !strings.Contains(err.Error(), "set AWS_REGION") {
		t.Fatalf("NewClient without a region: %v", err)
	}
	t.Setenv("AWS_REGION", "eu-west-1")
	c, err := s3out.NewClient(t.Context())
	if err != nil || c.Options().Region != "eu-west-1" || c.Options().UsePathStyle {
		t.Fatalf("NewClient: %v, %+v", err, c)
	}
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1")
	if c, err := s3out.NewClient(t.Context()); err != nil || !c.Options().UsePathStyle {
		t.Fatalf("NewClient with an endpoint: %v, path style %v", err, err == nil && c.Options().UsePathStyle)
	}
	t.Setenv("SHARDFLOW_S3_PATH_STYLE", "false")
	if c, err := s3out.NewClient(t.Context()); err != nil || c.Options().UsePathStyle {
		t.Fatalf("NewClient with SHARDFLOW_S3_PATH_STYLE=false: %v", err)
	}
}
