package jobs

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shardflow/shardflow/internal/testenv"
)

func TestLookup(t *testing.T) {
	d, err := Lookup("clickstream")
	if err != nil || d.Name != "clickstream" || !slices.Equal(d.Tables, []string{"page_stats", "late_events"}) {
		t.Fatalf("Lookup(clickstream) = %+v, %v", d, err)
	}
	if _, err := Lookup("nope"); err == nil || !strings.Contains(err.Error(), `no job "nope" (have: clickstream, features, sessions)`) {
		t.Fatalf("Lookup(nope): %v", err)
	}
	if all := All(); len(all) != len(registry) {
		t.Fatalf("All() = %d jobs, want %d", len(all), len(registry))
	}
}

func TestOpenSource(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.jsonl"), []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		spec, name, err string
	}{
		{"generator", "generator", ""},
		{"file://" + dir + "/*.jsonl", "file", ""},
		{"file://" + dir + "/*.csv", "", "matches no file"},
		{"file://", "", "unknown source"},
		{"kafka://t", "", `unknown source "kafka://t": kafka:// is not supported; want generator, file://GLOB[?follow=1] or kinesis://STREAM`},
		{"bogus", "", `unknown source "bogus": want generator, file://GLOB[?follow=1] or kinesis://STREAM`},
		{"kinesis://s?shard=1", "", `unknown parameter "shard"`},
	} {
		src, err := OpenSource(ctx, tc.spec, SourceOptions{Generator: DefaultGenerator()})
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: got %v, want an error containing %q", tc.spec, err, tc.err)
		case tc.err == "" && (err != nil || src.Name() != tc.name):
			t.Errorf("%s: got %v, %v; want a %s source", tc.spec, src, err, tc.name)
		}
	}
}

func TestSourceKind(t *testing.T) {
	for spec, want := range map[string]string{
		"generator": SourceGenerator, "file://a/*.jsonl": SourceFile, "kinesis://s?consumer=c": SourceKinesis,
		"kinesis://arn:aws:kinesis:us-east-1:1:stream/s": SourceKinesis,
		"kinesis://": "", "file://": "", "s3://b/p": "", "Generator": "",
	} {
		got, err := SourceKind(spec)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("SourceKind(%q) = %q, %v; want %q", spec, got, err, want)
		}
	}
}

// A stream that does not exist fails when the source is opened, before any
// work, with the server's answer.
func TestOpenKinesisChecksTheStream(t *testing.T) {
	srv := testenv.Kinesalite(t)
	t.Setenv("AWS_ENDPOINT_URL", srv.Endpoint())
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "x")
	testenv.CreateStream(t, srv.Client, "there", 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := OpenSource(ctx, "kinesis://missing", SourceOptions{}); err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Fatalf("missing stream: %v", err)
	}
	src, err := OpenSource(ctx, "kinesis://there", SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	shards, err := src.Shards(ctx)
	if err != nil || len(shards) != 2 {
		t.Fatalf("shards of there: %v, %v", shards, err)
	}
}

func TestEnvValidate(t *testing.T) {
	if err := (Env{}).Validate(); err == nil {
		t.Fatal("an empty Env validated")
	}
	if _, err := Clickstream.Build(Env{}); err == nil || !strings.Contains(err.Error(), "no source") {
		t.Fatalf("Build(Env{}): %v", err)
	}
}
