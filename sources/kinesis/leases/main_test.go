package leases

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"go.uber.org/goleak"

	"github.com/shardflow/shardflow/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newClient returns a client of its own (own connections) to srv.
func newClient(t *testing.T, srv *testenv.DynamoDBServer) *dynamodb.Client {
	return dynamodbClient(t, srv)
}

func dynamodbClient(t testing.TB, srv *testenv.DynamoDBServer) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{}, srv.DynamoDBOptions(t))
}

// newTable creates a lease table with n unowned leases s00..s(n-1).
func newTable(t *testing.T, srv *testenv.DynamoDBServer, name string, n int) {
	t.Helper()
	ctx := context.Background()
	tb, err := NewTable(newClient(t, srv), name)
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.Create(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if ok, err := tb.Put(ctx, Lease{Key: fmt.Sprintf("s%02d", i)}); err != nil || !ok {
			t.Fatalf("put: %v %v", ok, err)
		}
	}
}

type counters struct {
	mu                          sync.Mutex
	taken, stolen, lost, handed map[string]int
}

func newCounters() *counters {
	return &counters{taken: map[string]int{}, stolen: map[string]int{}, lost: map[string]int{}, handed: map[string]int{}}
}
func (m *counters) inc(c map[string]int, o string) { m.mu.Lock(); c[o]++; m.mu.Unlock() }
func (m *counters) Held(string, int)               {}
func (m *counters) Taken(o, _ string)              { m.inc(m.taken, o) }
func (m *counters) Stolen(o, _ string)             { m.inc(m.stolen, o) }
func (m *counters) Lost(o, _ string)               { m.inc(m.lost, o) }
func (m *counters) HandedOff(o, _ string)          { m.inc(m.handed, o) }

func newCoord(t *testing.T, srv *testenv.DynamoDBServer, table, owner string, clock Clock, m Metrics, handOff func(context.Context, Lease) error) *Coordinator {
	t.Helper()
	tb, err := NewTable(newClient(t, srv), table)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCoordinator(Config{Table: tb, Owner: owner, Period: time.Second, Expiry: 3 * time.Second, Clock: clock, Metrics: m, HandOff: handOff})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func heldKeys(c *Coordinator) []string {
	var ks []string
	for _, l := range c.Held() {
		ks = append(ks, l.Key)
	}
	sort.Strings(ks)
	return ks
}

// ownersIn returns the owner of every lease as the table says (the old
// owner while a hand-off is in progress: it alone may commit).
func ownersIn(t *testing.T, srv *testenv.DynamoDBServer, table string) map[string]string {
	t.Helper()
	tb, _ := NewTable(newClient(t, srv), table)
	all, err := tb.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range all {
		out[l.Key] = l.Owner
		if l.CheckpointOwner != "" {
			out[l.Key] = l.CheckpointOwner
		}
	}
	return out
}
