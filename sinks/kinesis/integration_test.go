package kinesis

import (
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shardflow/shardflow/internal/testenv"
)

// readStream reads every shard of the stream from TRIM_HORIZON to its end
// with the SDK's GetRecords and returns the user records, deaggregated.
func readStream(t *testing.T, client *kinesis.Client, name string) []userRecord {
	t.Helper()
	ids, records := testenv.ReadStream(t, client, name)
	logs := map[string][]stored{}
	for id, recs := range records {
		for _, r := range recs {
			logs[id] = append(logs[id], stored{aws.ToString(r.PartitionKey), r.Data})
		}
	}
	return readBack(t, ids, func(s string) []stored { return logs[s] })
}

func TestIntegrationKinesalite(t *testing.T) {
	srv := testenv.Kinesalite(t)
	for _, tc := range []struct {
		name      string
		aggregate bool
	}{
		{"plain", false},
		{"aggregated", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stream := "produce-" + tc.name
			testenv.CreateStream(t, srv.Client, stream, 2)
			p, err := NewProducer(ProducerConfig{Stream: stream, Client: srv.Client, Aggregate: tc.aggregate, MaxAggregateBytes: 50_000})
			if err != nil {
				t.Fatal(err)
			}
			want := putAll(t, p, 5000, 300, 120)
			m, err := listShardMap(context.Background(), srv.Client, newStreamRef(stream))
			if err != nil {
				t.Fatal(err)
			}
			shardOf := func(key string) string { id, _ := m.lookup(key); return id }
			got := readStream(t, srv.Client, stream)
			checkRecords(t, want, got, true, shardOf)
			st := p.Stats()
			if st.Records != 5000 || tc.aggregate != (st.KinesisRecords < 5000) {
				t.Fatalf("stats %+v", st)
			}
			t.Logf("%s: %d user records in %d Kinesis records, %d calls", tc.name, st.Records, st.KinesisRecords, st.Calls)
		})
	}

	t.Run("sink", func(t *testing.T) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		testenv.CreateStream(t, srv.Client, "derived", 2)
		s, err := New(Config{PartitionKeyColumn: "page", ProducerConfig: ProducerConfig{Stream: "derived", Client: srv.Client, Aggregate: true}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Bind(windowSchema); err != nil {
			t.Fatal(err)
		}
		var rows []windowRow
		var want []userRecord
		for i := range 100 {
			page := fmt.Sprintf("/p%d", i%9)
			rows = append(rows, windowRow{page: ptr(page), start: 1767225600000, events: int64(i), revenue: 1.5})
			want = append(want, userRecord{key: page, data: fmt.Sprintf(
				`{"page":%q,"window_start":"2026-01-01T00:00:00.000Z","events":%d,"revenue":1.5,"ok":%t,"raw":null,"day":"2026-01-01","small":%d}`,
				page, i, i%2 == 0, i)})
		}
		if err := s.Write(context.Background(), windowBatch(t, mem, rows)); err != nil {
			t.Fatal(err)
		}
		checkRecords(t, want, readStream(t, srv.Client, "derived"), true, nil)
	})
}
