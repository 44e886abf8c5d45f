package s3out_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sinks/parquet"
	"github.com/shardflow/shardflow/sinks/s3out"
	"github.com/shardflow/shardflow/sinks/staging"
)

// commitRows writes rows [first, first+k) of n and commits them as
// checkpoint id, rolling every file.
func commitRows(t *testing.T, s *parquet.Sink, mem memory.Allocator, id uint64, first, k, n int) []byte {
	t.Helper()
	ctx := context.Background()
	if err := s.Write(ctx, batch(mem, first, k, n, 8)); err != nil {
		t.Fatal(err)
	}
	h, err := s.PreCommit(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, id, h); err != nil {
		t.Fatal(err)
	}
	return h
}

// Output of the job that the restored checkpoint does not account for is
// refused, naming it, and replaced exactly with Overwrite; a newer epoch
// fences; a committed object that is gone is refused, and forgotten with
// Overwrite. Another job's output is never touched.
func TestRecoverRefusesUnaccountedOutput(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	srv := testenv.StartS3(t, bucket)
	ctx := context.Background()
	const n = 3000
	rec := func(run string, epoch, id uint64, h []byte, overwrite bool) error {
		s, _ := newSink(t, srv, sinkOpts{rollSize: 1})
		return s.Recover(ctx, pipeline.Recovery{Job: "j", Run: run, Epoch: epoch, ID: id, Handle: h, Overwrite: overwrite})
	}

	other, _ := newSink(t, srv, sinkOpts{rollSize: 1})
	if err := other.Recover(ctx, pipeline.Recovery{Job: "other", Run: "o1", Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	commitRows(t, other, mem, 1, 2000, 10, n) // hour 00 of 03-02
	s, _ := newSink(t, srv, sinkOpts{rollSize: 1})
	recoverSink(t, s, 0, nil)
	h1 := commitRows(t, s, mem, 1, 0, 100, n)
	commitRows(t, s, mem, 2, 100, 100, n)

	// Checkpoint 2 was lost: restoring 1 finds its output.
	err := rec("r1", 1, 1, h1, false)
	if !errors.Is(err, staging.ErrUnaccounted) || !strings.Contains(err.Error(), "run r1 checkpoint 2, 1 files (newer than the restored checkpoint 1)") {
		t.Fatalf("restore of 1 after 2 was committed: %v", err)
	}
	// A new run without a checkpoint finds run r1's.
	if err := rec("r2", 1, 0, nil, false); !errors.Is(err, staging.ErrUnaccounted) || !strings.Contains(err.Error(), "--overwrite") {
		t.Fatalf("a new run over r1's output: %v", err)
	}
	// A process with an older epoch is fenced.
	if err := rec("r1", 0+1, 2, nil, false); err != nil {
		t.Fatalf("resume at 2 with the same epoch: %v", err)
	}
	s5, _ := newSink(t, srv, sinkOpts{rollSize: 1})
	if err := s5.Recover(ctx, pipeline.Recovery{Job: "j", Run: "r1", Epoch: 5, ID: 2}); err != nil {
		t.Fatal(err)
	}
	commitRows(t, s5, mem, 3, 200, 10, n) // committed with epoch 5
	if err := rec("r1", 4, 3, nil, false); !errors.Is(err, pipeline.ErrFenced) {
		t.Fatalf("epoch 4 after 5 committed: %v", err)
	}

	// Overwrite as run r2: every object of r1 goes, the other job's stays.
	if err := rec("r2", 6, 0, nil, true); err != nil {
		t.Fatal(err)
	}
	for _, k := range parquetKeys(t, srv) {
		if !strings.Contains(k, "part-o1-") {
			t.Errorf("after Overwrite: %s is left", k)
		}
	}
	if len(parquetKeys(t, srv)) != 1 {
		t.Fatalf("the other job's object is gone: %v", parquetKeys(t, srv))
	}

	// A committed object of the restored run that is gone is refused, then
	// forgotten with Overwrite.
	s4, _ := newSink(t, srv, sinkOpts{rollSize: 1})
	if err := s4.Recover(ctx, pipeline.Recovery{Job: "j", Run: "r3", Epoch: 7}); err != nil {
		t.Fatal(err)
	}
	commitRows(t, s4, mem, 1, 0, 10, n)
	commitRows(t, s4, mem, 2, 10, 10, n)
	var gone string
	for _, k := range parquetKeys(t, srv) {
		if strings.Contains(k, "part-r3-00000001-") {
			gone = k
		}
	}
	if _, err := srv.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: strPtr(bucket), Key: &gone}); err != nil {
		t.Fatal(err)
	}
	if err := rec("r3", 7, 2, nil, false); !errors.Is(err, staging.ErrMissing) || !strings.Contains(err.Error(), "part-r3-00000001-0000.parquet") {
		t.Fatalf("a committed object deleted: %v", err)
	}
	if err := rec("r3", 7, 2, nil, true); err != nil {
		t.Fatal(err)
	}
	if err := rec("r3", 7, 2, nil, false); err != nil {
		t.Fatalf("after Overwrite forgot it: %v", err)
	}
}

// A replay's output of its own run that the restored checkpoint does not
// account for (a fresh checkpoint directory) is replaced without Overwrite,
// whatever its epoch; another replay's is refused.
func TestRecoverReplaysReplaceTheirOwnOutput(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	srv := testenv.StartS3(t, bucket)
	ctx := context.Background()
	const n = 3000
	start := func(run string, epoch uint64) (*parquet.Sink, error) {
		s, _ := newSink(t, srv, sinkOpts{rollSize: 1})
		return s, s.Recover(ctx, pipeline.Recovery{Job: "j", Run: run, Epoch: epoch, Replay: true})
	}
	s, err := start("replay-a", 3)
	if err != nil {
		t.Fatal(err)
	}
	commitRows(t, s, mem, 1, 0, 100, n)
	commitRows(t, s, mem, 2, 100, 100, n)
	before := parquetKeys(t, srv)
	if len(before) != 2 {
		t.Fatalf("objects after the first start: %v", before)
	}
	if _, err := start("replay-b", 1); !errors.Is(err, staging.ErrUnaccounted) {
		t.Fatalf("another replay over replay-a's output: %v", err)
	}
	s, err = start("replay-a", 1)
	if err != nil {
		t.Fatalf("the same replay with a fresh checkpoint directory: %v", err)
	}
	if k := parquetKeys(t, srv); len(k) != 0 {
		t.Fatalf("after the replay's fresh start: %v left", k)
	}
	commitRows(t, s, mem, 1, 0, 100, n)
	commitRows(t, s, mem, 2, 100, 100, n)
	if after := parquetKeys(t, srv); !slices.Equal(after, before) {
		t.Errorf("objects after the second start = %v, want the same names as the first's: %v", after, before)
	}
}

func strPtr(s string) *string { return &s }

// lossyAPI completes an upload on the server and then reports a failure,
// once: the answer was lost.
type lossyAPI struct {
	s3out.API
	lost bool
}

func (l *lossyAPI) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	out, err := l.API.CompleteMultipartUpload(ctx, in, opts...)
	if err == nil && !l.lost {
		l.lost = true
		return nil, errors.New("connection reset")
	}
	return out, err
}

// A commit whose CompleteMultipartUpload answer is lost fails; retried, it
// finds the object complete and succeeds, with no second copy; so does a
// Recover of the same checkpoint.
func TestCommitRetriedAfterALostAnswer(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	srv := testenv.StartS3(t, bucket)
	ctx := context.Background()
	lossy := &lossyAPI{API: srv.Client}
	s, _ := newSink(t, srv, sinkOpts{rollSize: 1, client: lossy})
	recoverSink(t, s, 0, nil)
	if err := s.Write(ctx, batch(mem, 0, 100, 3000, 8)); err != nil {
		t.Fatal(err)
	}
	h, err := s.PreCommit(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, 1, h); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("commit with a lost answer: %v", err)
	}
	if err := s.Commit(ctx, 1, h); err != nil {
		t.Fatalf("retried commit: %v", err)
	}
	s2, _ := newSink(t, srv, sinkOpts{})
	recoverSink(t, s2, 1, h)
	if k := parquetKeys(t, srv); len(k) != 1 {
		t.Fatalf("objects %v, want 1", k)
	}
	ids := tableRows(t, srv)
	if len(ids) != 100 {
		t.Fatalf("%d rows, want 100", len(ids))
	}
	for id, c := range ids {
		if c != 1 {
			t.Fatalf("row %d occurs %d times", id, c)
		}
	}
}
