package archive_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sources/archive"
)

// Progress lists every object with its size, and reaches the size once an
// object has been read to its end; a shard resumed in a plain object starts
// at its offset (a seek or a ranged GET); one in gzip has read what it
// decompressed to skip there.
func TestProgress(t *testing.T) {
	objs := testObjects()
	dir := t.TempDir()
	writeLocal(t, dir, objs)
	srv := testenv.StartS3(t, "arch")
	putS3(t, srv.Client, "arch", objs)
	for _, url := range []string{"file://" + filepath.Join(dir, "2026/*/*/*/*"), "s3://arch/2026/"} {
		t.Run(url[:4], func(t *testing.T) {
			open := func() *archive.Source {
				src, err := archive.New(context.Background(), archive.Config{URL: url, S3: srv.Client, MaxLineBytes: testMaxLine})
				if err != nil {
					t.Fatal(err)
				}
				return src
			}
			src := open()
			before := src.Progress()
			if len(before) != len(objs) {
				t.Fatalf("%d objects, want %d", len(before), len(objs))
			}
			for _, o := range before {
				want := int64(len(encode(t, filepath.ToSlash(o.Key), objs[keyOf(o.Key)])))
				if o.Size != want || o.Read != 0 {
					t.Errorf("%s before reading: size %d read %d, want size %d read 0", o.Key, o.Size, o.Read, want)
				}
			}
			if _, _, err := readAll(t, src); err != nil {
				t.Fatal(err)
			}
			for _, o := range src.Progress() {
				if o.Read != o.Size {
					t.Errorf("%s read to its end: read %d of %d", o.Key, o.Read, o.Size)
				}
			}

			// Resumed after the first record.
			src = open()
			ctx := context.Background()
			for _, o := range src.Progress() {
				if o.Size == 0 {
					continue
				}
				r, err := src.OpenShard(ctx, pipeline.Shard{ID: o.Key}, pipeline.Position{N: int64(len(firstLine(objs[keyOf(o.Key)])))})
				if err != nil {
					t.Fatal(err)
				}
				got, want := progressOf(src, o.Key), int64(len(firstLine(objs[keyOf(o.Key)])))
				if filepath.Ext(o.Key) == ".gz" { // decompressed from the start to skip the line
					if got <= 0 || got > o.Size {
						t.Errorf("%s resumed: read %d of %d once opened, want some", o.Key, got, o.Size)
					}
				} else if got != want {
					t.Errorf("%s resumed: read %d before the first Read, want %d (the offset)", o.Key, got, want)
				}
				r.Close()
			}
		})
	}
}

// keyOf is the test object's key of a local path or an S3 key.
func keyOf(key string) string {
	key = filepath.ToSlash(key)
	for k := range testObjects() {
		if len(key) >= len(k) && key[len(key)-len(k):] == k {
			return k
		}
	}
	return key
}

func firstLine(s string) string {
	for i := range len(s) {
		if s[i] == '\n' {
			return s[:i+1]
		}
	}
	return s
}

func progressOf(src *archive.Source, key string) int64 {
	for _, o := range src.Progress() {
		if o.Key == key {
			return o.Read
		}
	}
	return -1
}
