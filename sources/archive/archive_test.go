package archive_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/archive"
	"github.com/shardflow/shardflow/sources/sourcetest"
)

const testMaxLine = 64

// expect is what a shard of content delivers: its non-empty lines, CR
// trimmed, the last one even without a newline, each at the offset past it.
func expect(content string) []sourcetest.Record {
	var recs []sourcetest.Record
	off := 0
	for off < len(content) {
		i := strings.IndexByte(content[off:], '\n')
		end := off + i + 1
		if i < 0 {
			end = len(content)
		}
		line := strings.TrimSuffix(strings.TrimSuffix(content[off:end], "\n"), "\r")
		off = end
		if line != "" {
			recs = append(recs, sourcetest.Record{Data: []byte(line), Pos: pipeline.Position{N: int64(off)}})
		}
	}
	return recs
}

// testObjects are Firehose-like keys, plain and gzip.
func testObjects() map[string]string {
	var many strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&many, `{"i":%d,"pad":"%s"}`+"\n", i, strings.Repeat("x", i%30))
		if i%97 == 0 {
			many.WriteString("\r\n")
		}
	}
	return map[string]string{
		"2026/01/02/03/s-1-2026-01-02-03-00-00-a":    "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n",
		"2026/01/02/03/s-1-2026-01-02-03-30-00-b.gz": "\n\n{\"b\":1}\r\n\r\n{\"b\":2}\n\n{\"b\":3}",
		"2026/01/02/04/s-1-2026-01-02-04-00-00-c.gz": many.String(),
		"2026/01/02/04/s-1-2026-01-02-04-10-00-d":    "",
	}
}

func gz(t testing.TB, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encode(t testing.TB, key, content string) []byte {
	if strings.HasSuffix(key, ".gz") {
		return gz(t, content)
	}
	return []byte(content)
}

func writeLocal(t testing.TB, dir string, objs map[string]string) {
	for key, content := range objs {
		p := filepath.Join(dir, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, encode(t, key, content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func putS3(t testing.TB, c *s3.Client, bucket string, objs map[string]string) {
	for key, content := range objs {
		if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(encode(t, key, content)),
		}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConformanceLocal(t *testing.T) {
	objs := testObjects()
	dir := t.TempDir()
	writeLocal(t, dir, objs)
	for _, batch := range []int{1, 7, 1000} {
		t.Run(fmt.Sprint("batch=", batch), func(t *testing.T) {
			sourcetest.Run(t, func(t *testing.T, mem memory.Allocator) sourcetest.Fixture {
				src, err := archive.New(context.Background(), archive.Config{
					URL: "file://" + dir + "/*/*/*/*/*", BatchSize: batch, MaxLineBytes: testMaxLine, Mem: mem,
				})
				if err != nil {
					t.Fatal(err)
				}
				want := map[string][]sourcetest.Record{}
				for key, content := range objs {
					want[filepath.Join(dir, filepath.FromSlash(key))] = expect(content)
				}
				return sourcetest.Fixture{Source: src, Want: want}
			})
		})
	}
}

func TestConformanceS3(t *testing.T) {
	objs := testObjects()
	srv := testenv.StartS3(t, "arch")
	putS3(t, srv.Client, "arch", objs)
	putS3(t, srv.Client, "arch", map[string]string{"other/x": "{}\n"}) // outside the prefix
	sourcetest.Run(t, func(t *testing.T, mem memory.Allocator) sourcetest.Fixture {
		src, err := archive.New(context.Background(), archive.Config{
			URL: "s3://arch/2026/", S3: srv.Client, BatchSize: 7, MaxLineBytes: testMaxLine, Mem: mem,
		})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][]sourcetest.Record{}
		for key, content := range objs {
			want[key] = expect(content)
		}
		return sourcetest.Fixture{Source: src, Want: want}
	})
}

// readAll reads every shard of src to its end and returns the records'
// data, the dead letters' payloads, and the first error that is not the end.
func readAll(t *testing.T, src *archive.Source) (recs []string, dead []string, err error) {
	ctx := context.Background()
	shards, _ := src.Shards(ctx)
	for _, sh := range shards {
		r, err := src.OpenShard(ctx, sh, pipeline.Position{})
		if err != nil {
			return recs, dead, err
		}
		for {
			b, err := r.Read(ctx)
			if b != nil {
				if b.Side == pipeline.DeadLetterSide {
					for i := range b.Len() {
						dead = append(dead, b.Rec.Column(1).(*array.String).Value(i)+"@"+b.Rec.Column(2).(*array.String).Value(i))
					}
				} else {
					for i := range b.Len() {
						recs = append(recs, string(b.Rec.Column(0).(*array.Binary).Value(i)))
					}
				}
				b.Release()
			}
			if err != nil {
				r.Close()
				if errors.Is(err, pipeline.ErrBoundReached) {
					break
				}
				return recs, dead, err
			}
		}
	}
	return recs, dead, nil
}

// A resumed run over an archive that changed is refused before any read, in
// one line naming the object and what to do; the unchanged archive resumes.
func TestResumeRefusesAChangedArchive(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, want string
		change     func(dir string)
	}{
		{"rewritten", "has tag", func(dir string) {
			os.WriteFile(filepath.Join(dir, "2026/01/02/03/s-1-2026-01-02-03-00-00-a"), []byte("{\"a\":9}\n{\"a\":2}\n{\"a\":3}\n"), 0o644)
		}},
		{"grown", "bytes now, was", func(dir string) {
			os.WriteFile(filepath.Join(dir, "2026/01/02/03/s-1-2026-01-02-03-00-00-a"), []byte("{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n{}\n"), 0o644)
		}},
		{"added", "is new", func(dir string) { writeLocal(t, dir, map[string]string{"2026/01/02/05/e": "{}\n"}) }},
		{"removed", "is gone", func(dir string) { os.Remove(filepath.Join(dir, "2026/01/02/04/s-1-2026-01-02-04-10-00-d")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeLocal(t, dir, testObjects())
			url := "file://" + dir + "/*/*/*/*/*"
			src, err := archive.New(ctx, archive.Config{URL: url})
			if err != nil {
				t.Fatal(err)
			}
			id := src.Identity()
			same, _ := archive.New(ctx, archive.Config{URL: url})
			if err := same.Resume(id); err != nil {
				t.Fatalf("unchanged archive: %v", err)
			}
			tc.change(dir)
			again, err := archive.New(ctx, archive.Config{URL: url})
			if err != nil {
				t.Fatal(err)
			}
			err = again.Resume(id)
			if !errors.Is(err, pipeline.ErrIncompatibleSource) || !strings.Contains(err.Error(), tc.want) ||
				!strings.Contains(err.Error(), "new checkpoint directory") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Resume = %v, want ErrIncompatibleSource in one line with %q", err, tc.want)
			}
		})
	}
	src, _ := archive.New(ctx, archive.Config{URL: "file://" + writeTmp(t) + "/*/*/*/*/*"})
	if err := src.Resume([]byte(`{"v":1,"url":"s3://b/p","objects":[]}`)); !errors.Is(err, pipeline.ErrIncompatibleSource) {
		t.Fatalf("another URL: Resume = %v", err)
	}
}

func writeTmp(t *testing.T) string {
	dir := t.TempDir()
	writeLocal(t, dir, testObjects())
	return dir
}

// A damaged gzip object fails its shard with an error that names it and the
// offset reached, after the records before the damage; it is not skipped.
func TestCorruptGzipFails(t *testing.T) {
	dir := t.TempDir()
	var lines strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&lines, `{"i":%d}`+"\n", i)
	}
	z := gz(t, lines.String())
	z[len(z)-6] ^= 0xff // the CRC-32 of the trailer
	os.WriteFile(filepath.Join(dir, "a.gz"), z, 0o644)
	src, err := archive.New(context.Background(), archive.Config{URL: filepath.Join(dir, "*.gz")})
	if err != nil {
		t.Fatal(err)
	}
	recs, _, err := readAll(t, src)
	if err == nil || !strings.Contains(err.Error(), "a.gz") || !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("err = %v, want the damaged object named", err)
	}
	if len(recs) != 2000 {
		t.Fatalf("%d records before the damage, want 2000 (the trailer is what is damaged)", len(recs))
	}
	os.WriteFile(filepath.Join(dir, "a.gz"), []byte("not gzip at all\n"), 0o644)
	src, _ = archive.New(context.Background(), archive.Config{URL: filepath.Join(dir, "*.gz")})
	if _, _, err := readAll(t, src); err == nil || !strings.Contains(err.Error(), "not gzip") {
		t.Fatalf("err = %v, want a not-gzip error", err)
	}
}

// An overlong line is a dead letter naming the object and the offset past
// it; the records around it are read.
func TestOverlongLineIsADeadLetter(t *testing.T) {
	dir := t.TempDir()
	content := "{\"a\":1}\n" + strings.Repeat("x", 300) + "\n{\"a\":2}\n"
	os.WriteFile(filepath.Join(dir, "a.gz"), gz(t, content), 0o644)
	src, err := archive.New(context.Background(), archive.Config{URL: "file://" + dir + "/*.gz", MaxLineBytes: testMaxLine})
	if err != nil {
		t.Fatal(err)
	}
	recs, dead, err := readAll(t, src)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(dir, "a.gz") + "@" + pipeline.Position{N: int64(8 + 301)}.String()
	if strings.Join(recs, ",") != `{"a":1},{"a":2}` || len(dead) != 1 || dead[0] != want {
		t.Fatalf("records %q, dead letters %q; want two records and %q", recs, dead, want)
	}
}

// --from/--to keep the objects of the Firehose hours asked for.
func TestHourFilter(t *testing.T) {
	dir := writeTmp(t)
	h := func(s string) time.Time { tm, _ := time.Parse(time.RFC3339, s); return tm }
	for _, tc := range []struct {
		from, to time.Time
		want     int
	}{
		{time.Time{}, time.Time{}, 4},
		{h("2026-01-02T03:59:00Z"), time.Time{}, 4},
		{h("2026-01-02T04:00:00Z"), time.Time{}, 2},
		{time.Time{}, h("2026-01-02T04:00:00Z"), 2},
		{time.Time{}, h("2026-01-02T04:00:01Z"), 4},
	} {
		src, err := archive.New(context.Background(), archive.Config{URL: dir + "/*/*/*/*/*", From: tc.from, To: tc.to})
		if err != nil {
			t.Fatal(err)
		}
		shards, _ := src.Shards(context.Background())
		if len(shards) != tc.want {
			t.Errorf("from %v to %v: %d objects, want %d", tc.from, tc.to, len(shards), tc.want)
		}
	}
	if _, err := archive.New(context.Background(), archive.Config{URL: dir + "/*/*/*/*/*", From: h("2027-01-01T00:00:00Z")}); err == nil {
		t.Error("an empty range: no error")
	}
}
