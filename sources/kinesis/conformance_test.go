package kinesis

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shardflow/shardflow/internal/testenv"
	"github.com/shardflow/shardflow/sources/sourcetest"
)

// TestConformance runs the shared source suite against kinesalite: a 3-shard
// stream with plain records and KPL aggregates (so that resume points fall
// inside aggregates), read unbounded.
func TestConformance(t *testing.T) {
	srv := testenv.Kinesalite(t)
	const stream = "conformance"
	testenv.CreateStream(t, srv.Client, stream, 3)
	want := map[string][]sourcetest.Record{}
	var once sync.Once
	fill := func(t *testing.T) {
		for i := range 120 {
			key := fmt.Sprintf("key-%d", i%7)
			var data []byte
			var users []string
			if i%10 == 9 {
				users = []string{fmt.Sprintf("%d-a", i), fmt.Sprintf("%d-b", i), fmt.Sprintf("%d-c", i)}
				data = aggregate(t, key+":"+users[0], key+":"+users[1], key+":"+users[2])
			} else {
				users = []string{fmt.Sprint(i)}
				data = []byte(users[0])
			}
			out, err := srv.Client.PutRecord(t.Context(), &kinesis.PutRecordInput{StreamName: aws.String(stream), PartitionKey: aws.String(key), Data: data})
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range users {
				want[*out.ShardId] = append(want[*out.ShardId], sourcetest.Record{Data: []byte(u), PartitionKey: key})
			}
		}
		for i := range 3 { // empty shards belong to Want too
			id := fmt.Sprintf("shardId-%012d", i)
			want[id] = append(want[id], []sourcetest.Record(nil)...)
		}
	}
	sourcetest.RunWith(t, func(t *testing.T, mem memory.Allocator) sourcetest.Fixture {
		once.Do(func() { fill(t) })
		src, err := New(t.Context(), Config{Stream: stream, Client: srv.Client, PollInterval: 300 * time.Millisecond, Mem: mem})
		if err != nil {
			t.Fatal(err)
		}
		return sourcetest.Fixture{Source: src, Want: want}
	}, sourcetest.Options{Cuts: 4})
}
