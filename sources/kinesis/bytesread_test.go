package kinesis

import (
	"testing"

	"github.com/shardflow/shardflow/pipeline"
)

// BytesRead counts the data and partition key bytes a shard's readers
// read, in ShardLoad.Bytes while the reader is open and still after it
// closed (a replay's progress reads it after the shard is done).
func TestBytesRead(t *testing.T) {
	sh := &fakeShard{id: "shardId-0"}
	api := newFake(sh)
	const n, size = 2500, 100
	api.put(sh, "key", payloads(n, size)...) // 3-byte key
	r := openReader(t, api, Config{}, sh.id, pipeline.Position{})
	got := 0
	for got < n {
		b, err := r.Read(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if b != nil {
			got += int(b.Rec.NumRows())
			b.Release()
		}
	}
	const want = n * (size + 3)
	if l := r.src.Load(); len(l) != 1 || l[0].Bytes != want {
		t.Fatalf("Load() = %+v, want Bytes %d", l, want)
	}
	if b := r.src.BytesRead(); b[sh.id] != want {
		t.Fatalf("BytesRead() = %v while open, want %d", b, want)
	}
	r.Close()
	if b := r.src.BytesRead(); len(b) != 1 || b[sh.id] != want {
		t.Fatalf("BytesRead() = %v after Close, want %d", b, want)
	}
}
