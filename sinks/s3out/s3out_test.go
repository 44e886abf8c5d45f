package s3out_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/internal/testenv"
)

// persisted is what a checkpoint store holds of the sink: the checkpoint,
// its handle, and where the source resumes.
type persisted struct {
	id     uint64
	handle []byte
	pos    int
}

// TestCrashesGiveEachRowOnce runs a table of rows through sinks that crash
// (are dropped without Close) before a checkpoint is persisted, between
// persist and commit, after commit and between checkpoints, each restarted
// from the last persisted checkpoint and fed again from its position, as the
// job does. The table on the server holds every row exactly once, and no
// upload or temporary object is left.
func TestCrashesGiveEachRowOnce(t *testing.T) {
	for _, pad := range []int{16, 400} { // small files; files with parts of >= 5 MiB
		t.Run(fmt.Sprintf("pad%d", pad), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			srv := testenv.StartS3(t, bucket)
			checker := &partChecker{API: srv.Client, t: t, sizes: make(map[string]int64)}
			ctx := context.Background()
			const n, per, every = 60_000, 500, 3 // rows, rows a batch, batches a checkpoint
			rng := rand.New(rand.NewPCG(1, uint64(pad)))
			var p persisted
			crashes := 0
			for round := 0; ; round++ {
				s, files := newSink(t, srv, sinkOpts{rgRows: 2000, client: checker})
				recoverSink(t, s, p.id, p.handle)
				if up := srv.Uploads(t, bucket, root); len(up) != 0 {
					t.Fatalf("round %d: after Recover, uploads in progress: %v", round, up)
				}
				pos, id := p.pos, p.id
				crashed := false
				for b := 0; pos < n && !crashed; b++ {
					k := min(per, n-pos)
					if err := s.Write(ctx, batch(mem, pos, k, n, pad)); err != nil {
						t.Fatal(err)
					}
					pos += k
					if round < 8 && rng.IntN(40) == 0 { // between checkpoints
						crashed = true
						break
					}
					if b%every != every-1 {
						continue
					}
					id++
					h, err := s.PreCommit(ctx, id)
					if err != nil {
						t.Fatal(err)
					}
					r := rng.IntN(20)
					if round < 8 && r == 0 { // before the checkpoint is persisted
						crashed = true
						break
					}
					p = persisted{id: id, handle: h, pos: pos}
					if round < 8 && r == 1 { // persisted, not committed
						crashed = true
						break
					}
					if err := s.Commit(ctx, id, h); err != nil {
						t.Fatal(err)
					}
					if round < 8 && r == 2 { // committed
						crashed = true
					}
				}
				if crashed {
					crashes++
					continue
				}
				id++
				h, err := s.PreCommit(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Commit(ctx, id, h); err != nil {
					t.Fatal(err)
				}
				if err := s.Close(ctx); err != nil {
					t.Fatal(err)
				}
				c := files.Counters()
				t.Logf("%d crashes; last run: %v", crashes, c)
				if pad == 400 && c["parts_uploaded"] == 0 {
					t.Errorf("no part uploaded: %v", c)
				}
				if pad == 400 && checker.parts <= len(parquetKeys(t, srv)) {
					t.Errorf("%d parts completed in %d files: no file of more than one part", checker.parts, len(parquetKeys(t, srv)))
				}
				break
			}
			if crashes < 3 {
				t.Fatalf("only %d crashes: the test did not test much", crashes)
			}
			ids := tableRows(t, srv)
			for i := range int64(n) {
				if ids[i] != 1 {
					t.Fatalf("row %d occurs %d times", i, ids[i])
				}
			}
			if len(ids) != n {
				t.Fatalf("%d distinct rows, want %d", len(ids), n)
			}
			if up := srv.Uploads(t, bucket, root); len(up) != 0 {
				t.Errorf("uploads left: %v", up)
			}
			if tmp := tmpKeys(t, srv); len(tmp) != 0 {
				t.Errorf("temporary objects left: %v", tmp)
			}
		})
	}
}

// TestOneFilePerRoll takes 50 checkpoints of a few rows each in one hour:
// the file stays open over all of them, and the table has one object.
func TestOneFilePerRoll(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	srv := testenv.StartS3(t, bucket)
	ctx := context.Background()
	s, files := newSink(t, srv, sinkOpts{})
	recoverSink(t, s, 0, nil)
	const n = 100_000 // rows of 3 hours; the first 50*20 are in hour 22
	for id := uint64(1); id <= 50; id++ {
		if err := s.Write(ctx, batch(mem, int(id-1)*20, 20, n, 8)); err != nil {
			t.Fatal(err)
		}
		h, err := s.PreCommit(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(ctx, id, h); err != nil {
			t.Fatal(err)
		}
		if keys := parquetKeys(t, srv); len(keys) != 0 {
			t.Fatalf("checkpoint %d: a file is visible before it rolled: %v", id, keys)
		}
		if tmp := tmpKeys(t, srv); len(tmp) > 1 {
			t.Fatalf("checkpoint %d: %d temporary objects, want at most 1: %v", id, len(tmp), tmp)
		}
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	keys := parquetKeys(t, srv)
	if len(keys) != 1 || path.Base(keys[0]) != "part-r1-00000001-0000.parquet" || !strings.Contains(keys[0], "dt=2026-03-01/hour=22/") {
		t.Fatalf("objects %v, want one: dt=2026-03-01/hour=22/part-r1-00000001-0000.parquet", keys)
	}
	if ids := tableRows(t, srv); len(ids) != 1000 {
		t.Fatalf("%d rows, want 1000", len(ids))
	}
	if tmp := tmpKeys(t, srv); len(tmp) != 0 {
		t.Errorf("temporary objects left: %v", tmp)
	}
	if c := files.Counters(); c["files_committed"] != 1 {
		t.Errorf("counters %v, want files_committed 1", c)
	}
}

// TestRollByAgeAndSize: a file rolls at the first checkpoint after it is
// RollAge old, and after the row group that takes it past RollSize.
func TestRollByAgeAndSize(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	srv := testenv.StartS3(t, bucket)
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 22, 0, 0, 0, time.UTC)
	s, _ := newSink(t, srv, sinkOpts{rollAge: 10 * time.Minute, rollSize: 50_000, now: func() time.Time { return now }, rgRows: 100})
	recoverSink(t, s, 0, nil)
	const n = 100_000
	pos := 0
	step := func(id uint64, rows int) {
		t.Helper()
		if err := s.Write(ctx, batch(mem, pos, rows, n, 8)); err != nil {
			t.Fatal(err)
		}
		pos += rows
		h, err := s.PreCommit(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(ctx, id, h); err != nil {
			t.Fatal(err)
		}
	}
	step(1, 10)
	now = now.Add(9 * time.Minute)
	step(2, 10)
	if k := parquetKeys(t, srv); len(k) != 0 {
		t.Fatalf("rolled before its age: %v", k)
	}
	now = now.Add(time.Minute)
	step(3, 10)
	if k := parquetKeys(t, srv); len(k) != 1 {
		t.Fatalf("after 10 min: objects %v, want 1", k)
	}
	step(4, 5000) // rolls by size
	k := parquetKeys(t, srv)
	sizes := srv.Objects(t, bucket, root)
	t.Logf("objects: %v", sizes)
	if len(k) < 3 {
		t.Fatalf("after 5000 rows with RollSize 50 kB: objects %v, want >= 3", k)
	}
	for _, key := range k[1 : len(k)-1] { // rolled by size; the last by the checkpoint's footer
		if sizes[key] < 50_000 || sizes[key] > 75_000 {
			t.Errorf("%s: %d bytes, want RollSize 50 kB, plus at most two row groups and the footer", key, sizes[key])
		}
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if ids := tableRows(t, srv); len(ids) != pos {
		t.Fatalf("%d rows, want %d", len(ids), pos)
	}
}

// TestRecoverAbortsUnownedUploads: after a crash, the uploads and
// temporary objects that the restored checkpoint does not own are gone,
// another job's upload is left alone, and the restored open file is
// finished with the rows of the checkpoint.
func TestRecoverAbortsUnownedUploads(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	srv := testenv.StartS3(t, bucket)
	ctx := context.Background()
	const n = 3000 // hours 22, 23, 00 of 1000 rows each
	other, _ := newSink(t, srv, sinkOpts{})
	if err := other.Recover(ctx, pipelineRecovery("other", "o1", 0, nil)); err != nil {
		t.Fatal(err)
	}
	if err := other.Write(ctx, batch(mem, 0, 10, n, 8)); err != nil {
		t.Fatal(err)
	}

	s, _ := newSink(t, srv, sinkOpts{})
	recoverSink(t, s, 0, nil)
	if err := s.Write(ctx, batch(mem, 0, 100, n, 8)); err != nil {
		t.Fatal(err)
	}
	h1, err := s.PreCommit(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, 1, h1); err != nil {
		t.Fatal(err)
	}
	// After checkpoint 1: more rows of hour 22 and new files in hours 23
	// and 00, and a checkpoint 2 that is never persisted.
	if err := s.Write(ctx, batch(mem, 100, 2000, n, 8)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PreCommit(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, batch(mem, 2100, 900, n, 8)); err != nil {
		t.Fatal(err)
	}
	if up := srv.Uploads(t, bucket, root); len(up) != 4 {
		t.Fatalf("uploads before the crash: %v, want 4 (3 of the job, 1 of the other)", up)
	}
	if tmp := tmpKeys(t, srv); len(tmp) != 4 {
		t.Fatalf("temporary objects before the crash: %v, want 4 (checkpoint 1's of hour 22, checkpoint 2's of 3 hours)", tmp)
	}

	s2, files := newSink(t, srv, sinkOpts{})
	recoverSink(t, s2, 1, h1)
	up := srv.Uploads(t, bucket, root)
	if len(up) != 1 || !strings.Contains(up[0], "part-o1-") {
		t.Fatalf("uploads after Recover: %v, want only the other job's", up)
	}
	if tmp := tmpKeys(t, srv); len(tmp) != 0 {
		t.Fatalf("temporary objects after Recover: %v", tmp)
	}
	if c := files.Counters(); c["uploads_aborted"] != 2 || c["files_committed"] != 1 {
		t.Errorf("counters %v, want uploads_aborted 2 (hours 23 and 00), files_committed 1 (hour 22, finished)", c)
	}
	ids := tableRows(t, srv)
	if len(ids) != 100 {
		t.Fatalf("%d rows after Recover, want the 100 of checkpoint 1", len(ids))
	}
	for id, c := range ids {
		if id >= 100 || c != 1 {
			t.Fatalf("row %d occurs %d times", id, c)
		}
	}
	// The other job's output is refused by neither: its upload is its own.
	if err := other.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestRetriedCommitDoesNotDuplicate commits a checkpoint twice, and
// recovers from it twice: one object, the same bytes.
func TestRetriedCommitDoesNotDuplicate(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	srv := testenv.StartS3(t, bucket)
	ctx := context.Background()
	const n = 3000
	s, _ := newSink(t, srv, sinkOpts{rollSize: 1}) // every file rolls at once
	recoverSink(t, s, 0, nil)
	if err := s.Write(ctx, batch(mem, 0, 1500, n, 8)); err != nil {
		t.Fatal(err)
	}
	h, err := s.PreCommit(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.Commit(ctx, 1, h); err != nil {
			t.Fatal(err)
		}
	}
	first := srv.Objects(t, bucket, root)
	for range 2 {
		s2, _ := newSink(t, srv, sinkOpts{})
		recoverSink(t, s2, 1, h)
	}
	again := srv.Objects(t, bucket, root)
	if fmt.Sprint(first) != fmt.Sprint(again) {
		t.Fatalf("objects changed by retried commits:\n%v\n%v", first, again)
	}
	keys := parquetKeys(t, srv)
	if len(keys) < 2 {
		t.Fatalf("objects %v, want a file per row group of 2 hours", keys)
	}
	ids := tableRows(t, srv)
	if len(ids) != 1500 {
		t.Fatalf("%d rows, want 1500", len(ids))
	}
	for id, c := range ids {
		if c != 1 {
			t.Fatalf("row %d occurs %d times", id, c)
		}
	}
}
