package kinesis

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/pipeline"
)

// TestKinesisLocalIdentity: a checkpoint of a stream that was deleted and
// created again under the same name (a new ARN) is refused, by Resume when
// the source has been listed, else by the first listing, which comes before
// any shard is opened; a fan-out source of the same stream resumes a polling
// source's checkpoint.
func TestKinesisLocalIdentity(t *testing.T) {
	srv := testenv.KinesisLocal(t)
	c := srv.Client
	const stream = "ids"
	testenv.CreateStream(t, c, stream, 1)
	open := func(consumer string) *Source {
		t.Helper()
		src, err := New(t.Context(), Config{Stream: stream, Client: c, Consumer: consumer})
		if err != nil {
			t.Fatal(err)
		}
		return src
	}
	list := func(src *Source) error {
		_, err := src.Shards(t.Context())
		return err
	}
	old := open("")
	if err := list(old); err != nil {
		t.Fatal(err)
	}
	before := old.Identity()
	var id identity
	if err := json.Unmarshal(before, &id); err != nil || id.Stream != stream || !strings.HasPrefix(id.ARN, "arn:") || id.Created == nil {
		t.Fatalf("Identity = %s (%v), want the stream's name, ARN and creation time", before, err)
	}
	if err := open("reader").Resume(before); err != nil {
		t.Errorf("a fan-out source refused a polling source's checkpoint of the same stream: %v", err)
	}

	if _, err := c.DeleteStream(t.Context(), &kinesis.DeleteStreamInput{StreamName: aws.String(stream)}); err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(20 * time.Millisecond) // polling the server's state, as testenv.WaitActive does
	defer tick.Stop()
	deadline := time.After(15 * time.Second)
	for {
		_, err := c.DescribeStreamSummary(t.Context(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
		if err != nil && strings.Contains(err.Error(), "ResourceNotFound") {
			break
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("stream not deleted: %v", err)
		}
	}
	testenv.CreateStream(t, c, stream, 1)

	listed := open("")
	if err := list(listed); err != nil {
		t.Fatal(err)
	}
	err := listed.Resume(before)
	t.Logf("Resume: %v", err)
	if !errors.Is(err, pipeline.ErrIncompatibleSource) || !strings.Contains(err.Error(), id.ARN) ||
		!strings.Contains(err.Error(), "deleted and created again") || !strings.Contains(err.Error(), "--overwrite") ||
		strings.Contains(err.Error(), "\n") {
		t.Errorf("Resume of the old stream's checkpoint = %v, want one line refusing it", err)
	}

	unlisted := open("")
	if err := unlisted.Resume(before); err != nil {
		t.Fatalf("Resume before a listing: %v", err)
	}
	if err := list(unlisted); !errors.Is(err, pipeline.ErrIncompatibleSource) {
		t.Errorf("the first listing after Resume of the old stream's checkpoint = %v, want it refused", err)
	}
}

// TestResumeAnotherStream: a checkpoint of another stream is refused even
// without ARNs (kinesalite, a fake), and a checkpoint without an identity is
// accepted.
func TestResumeAnotherStream(t *testing.T) {
	src, err := New(t.Context(), Config{Stream: "clicks", Client: newFake()})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Resume(nil); err != nil {
		t.Errorf("Resume(nil) = %v", err)
	}
	err = src.Resume([]byte(`{"stream":"views"}`))
	want := `kinesis: the checkpoint was taken of stream "views", this job reads stream "clicks"; resume with the stream it was taken of, ` +
		`or start over with a new checkpoint directory and --overwrite: pipeline: checkpoint was taken of another input`
	if !errors.Is(err, pipeline.ErrIncompatibleSource) || err.Error() != want {
		t.Errorf("Resume = %v\nwant %s", err, want)
	}
	prev := `{"stream":"clicks","arn":"arn:aws:kinesis:us-east-1:1:stream/clicks","created":"2026-12-01T10:00:00Z"}`
	if err := src.Resume([]byte(prev)); err != nil {
		t.Errorf("Resume of the same name, no ARN known here: %v", err)
	}
	// What this run cannot learn is kept from the checkpoint, not dropped.
	if got := string(src.Identity()); got != prev {
		t.Errorf("Identity after Resume = %s, want the checkpoint's %s", got, prev)
	}
}
