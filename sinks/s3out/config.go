package s3out

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Defaults of Config.
const (
	// DefaultRollSize is the size at which a file is finished.
	DefaultRollSize = 128 << 20
	// DefaultRollAge is the age at which a file is finished at the next
	// checkpoint.
	DefaultRollAge = 15 * time.Minute
	// DefaultPartSize is the size of the parts uploaded while a file is
	// written.
	DefaultPartSize = 8 << 20
	// MinPartSize is S3's minimum size of a part other than the last.
	MinPartSize = 5 << 20
)

// API is the part of the S3 client that the Files use; *s3.Client has it,
// and a test can wrap it to fail calls on demand.
type API interface {
	CreateMultipartUpload(context.Context, *s3.CreateMultipartUploadInput, ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	UploadPart(context.Context, *s3.UploadPartInput, ...func(*s3.Options)) (*s3.UploadPartOutput, error)
	CompleteMultipartUpload(context.Context, *s3.CompleteMultipartUploadInput, ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(context.Context, *s3.AbortMultipartUploadInput, ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
	ListMultipartUploads(context.Context, *s3.ListMultipartUploadsInput, ...func(*s3.Options)) (*s3.ListMultipartUploadsOutput, error)
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	DeleteObject(context.Context, *s3.DeleteObjectInput, ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	ListParts(context.Context, *s3.ListPartsInput, ...func(*s3.Options)) (*s3.ListPartsOutput, error)
	CopyObject(context.Context, *s3.CopyObjectInput, ...func(*s3.Options)) (*s3.CopyObjectOutput, error)
	ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

var _ API = (*s3.Client)(nil)

// Config configures the Files of one table.
type Config struct {
	// Client is the S3 client (NewClient makes one from the standard AWS
	// configuration).
	Client API
	// Bucket and Prefix say where the output goes: the table's objects are
	// under Prefix/Table/ (Prefix may be empty).
	Bucket, Prefix string
	// Table is the table's name, one path segment.
	Table string
	// RollSize: a file whose size reaches it is finished after the row group
	// that made it so; default 128 MiB.
	RollSize int64
	// RollAge: a file this old is finished at the next checkpoint; default
	// 15 min.
	RollAge time.Duration
	// PartSize is the size at which the bytes written are uploaded as a
	// part; default 8 MiB, at least MinPartSize.
	PartSize int
	// Now is the clock of RollAge; default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.RollSize == 0 {
		c.RollSize = DefaultRollSize
	}
	if c.RollAge == 0 {
		c.RollAge = DefaultRollAge
	}
	if c.PartSize == 0 {
		c.PartSize = DefaultPartSize
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate checks the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.Client == nil {
		errs = append(errs, errors.New("s3out: no Client"))
	}
	if c.Bucket == "" {
		errs = append(errs, errors.New("s3out: no Bucket"))
	}
	if strings.HasPrefix(c.Prefix, "/") || strings.HasSuffix(c.Prefix, "/") || strings.Contains(c.Prefix, "//") {
		errs = append(errs, fmt.Errorf("s3out: Prefix %q: want no leading, trailing or double slash", c.Prefix))
	}
	if c.Table == "" || strings.ContainsAny(c.Table, `/\`) || strings.HasPrefix(c.Table, ".") || strings.HasPrefix(c.Table, "_") {
		errs = append(errs, fmt.Errorf("s3out: Table %q is not a plain name", c.Table))
	}
	if c.RollSize < 0 || c.RollAge < 0 {
		errs = append(errs, errors.New("s3out: RollSize and RollAge want >= 0"))
	}
	if c.PartSize != 0 && c.PartSize < MinPartSize {
		errs = append(errs, fmt.Errorf("s3out: PartSize %d: want at least %d (S3's minimum part)", c.PartSize, MinPartSize))
	}
	return errors.Join(errs...)
}

// Location is a parsed s3://bucket/prefix URL.
type Location struct {
	Bucket, Prefix string
}

// String is the URL.
func (l Location) String() string {
	if l.Prefix == "" {
		return "s3://" + l.Bucket
	}
	return "s3://" + l.Bucket + "/" + l.Prefix
}

// Join is the URL of the path p under l.
func (l Location) Join(p string) string { return strings.TrimSuffix(l.String(), "/") + "/" + p }

// IsURL reports whether s is an s3:// URL (good or bad), that is, not a
// local directory.
func IsURL(s string) bool { return strings.HasPrefix(strings.ToLower(s), "s3://") }

// ParseURL parses s3://bucket[/prefix]. The error says what to write.
func ParseURL(s string) (Location, error) {
	bad := func(why string) (Location, error) {
		return Location{}, fmt.Errorf("%s: %s; want s3://BUCKET or s3://BUCKET/PREFIX", s, why)
	}
	if !IsURL(s) {
		return bad("not an s3:// URL")
	}
	u, err := url.Parse(s)
	if err != nil {
		return bad(err.Error())
	}
	if !strings.HasPrefix(s, "s3://") {
		return bad("the scheme is s3, in lower case")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Port() != "" {
		return bad("no user, port, query or fragment")
	}
	if !validBucket(u.Host) {
		return bad(fmt.Sprintf("bucket %q is not a valid bucket name (3-63 of a-z, 0-9, '.', '-')", u.Host))
	}
	prefix := strings.Trim(u.Path, "/")
	if strings.Contains(prefix, "//") {
		return bad("empty path segment")
	}
	for _, seg := range strings.Split(prefix, "/") {
		if seg == "." || seg == ".." {
			return bad("'.' or '..' in the prefix")
		}
	}
	return Location{Bucket: u.Host, Prefix: prefix}, nil
}

func validBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 {
		return false
	}
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || (c == '.' || c == '-') && i > 0 && i < len(b)-1
		if !ok {
			return false
		}
	}
	return true
}

// NewClient returns an S3 client from the standard AWS configuration
// (config.LoadDefaultConfig: AWS_REGION, credentials, AWS_ENDPOINT_URL_S3 or
// AWS_ENDPOINT_URL). With an endpoint set (an S3-compatible store) it
// addresses buckets path-style (the SDK's UsePathStyle), which those stores
// expect; SHARDFLOW_S3_PATH_STYLE=false or true overrides that. Checksums
// are computed only where the API requires them, which every S3-compatible
// store accepts.
func NewClient(ctx context.Context) (*s3.Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("s3out: AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("s3out: no AWS region: set AWS_REGION (any region, for an S3-compatible store)")
	}
	pathStyle := os.Getenv("AWS_ENDPOINT_URL_S3") != "" || os.Getenv("AWS_ENDPOINT_URL") != ""
	switch os.Getenv("SHARDFLOW_S3_PATH_STYLE") {
	case "true":
		pathStyle = true
	case "false":
		pathStyle = false
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = pathStyle
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}), nil
}
