package testenv

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// KinesisServer is a Kinesis API server started for one test.
type KinesisServer struct {
	*Process
	// Client talks to the server with dummy credentials (x/x) in us-east-1.
	Client *kinesis.Client
}

// NewClient returns another client of the server. A non-nil transport replaces
// the client's HTTP transport, so that tests can inject faults (throttling,
// expired iterators) around the real server's answers.
func (s *KinesisServer) NewClient(transport http.RoundTripper, optFns ...func(*kinesis.Options)) *kinesis.Client {
	return KinesisClient(s.Endpoint(), transport, optFns...)
}

// KinesisClient returns a client of the Kinesis API at endpoint with dummy
// credentials (x/x) in us-east-1. A nil transport means a fresh
// http.Transport; the SDK's own retries stay enabled.
func KinesisClient(endpoint string, transport http.RoundTripper, optFns ...func(*kinesis.Options)) *kinesis.Client {
	if transport == nil {
		transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	opts := kinesis.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("x", "x", ""),
		BaseEndpoint: aws.String(endpoint),
		HTTPClient:   &http.Client{Transport: transport},
	}
	return kinesis.New(opts, optFns...)
}

// kinesaliteScript starts kinesalite through its JS API (its command line has
// no --host flag and would listen on every interface) on port 0 of 127.0.0.1,
// and writes the port it got in the line PrintedPort waits for.
const kinesaliteScript = `
const shift = Number(process.env.TESTENV_CLOCK_SHIFT_MS || 0);
if (shift) { const now = Date.now; Date.now = () => now() + shift; }
const server = require('./node_modules/kinesalite')({
  createStreamMs: 50, deleteStreamMs: 50, updateStreamMs: 50, shardLimit: 1000,
  path: process.env.TESTENV_KINESALITE_PATH || undefined,
});
server.on('error', (err) => { console.error(err); process.exit(1); });
server.listen(0, '127.0.0.1', () => {
  console.log('testenv: listening on 127.0.0.1:' + server.address().port);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`

// Kinesalite starts kinesalite (fast; split and merge; no UpdateShardCount, no
// fan-out, MillisBehindLatest always 0, no StreamARN) on a loopback port it
// binds itself, for the duration of t. It fails t when the server cannot
// start.
func Kinesalite(t testing.TB) *KinesisServer {
	t.Helper()
	return KinesaliteWith(t, KinesaliteOptions{})
}

// KinesaliteOptions are what KinesaliteWith may change of a kinesalite.
type KinesaliteOptions struct {
	// Path keeps the server's streams in this directory (LevelDB), so that a
	// server started later on the same Path has them; empty: in memory.
	Path string
	// ClockShift moves the server's clock (Date.now): the arrival times it
	// gives records, and the clock its retention trims by. A server started
	// with -25 h writes records that a later server on the same Path, with
	// the real clock, has expired from a 24 h stream.
	ClockShift time.Duration
}

// KinesaliteWith starts kinesalite as Kinesalite does, with o.
func KinesaliteWith(t testing.TB, o KinesaliteOptions) *KinesisServer {
	t.Helper()
	cmd := Node(context.Background(), t, "-e", kinesaliteScript)
	cmd.Env = append(os.Environ(), "TESTENV_KINESALITE_PATH="+o.Path, "TESTENV_CLOCK_SHIFT_MS="+strconv.FormatInt(o.ClockShift.Milliseconds(), 10))
	p := Start(t, "kinesalite", cmd, PrintedPort)
	return &KinesisServer{Process: p, Client: KinesisClient(p.Endpoint(), idleClosing(t))}
}

// KinesisLocal starts kinesis-local (kinesis-mock compiled to JavaScript:
// UpdateShardCount, fan-out, real MillisBehindLatest, StreamARN, ChildShards;
// slow) for the duration of t. It binds port 0 but logs "port 0", not the port
// it got, so its plain port is picked by StartOnPort, which checks that the
// listener there is kinesis-local's own and retries on another port if not.
// Its TLS port is bound to port 0 and not used. scripts/testenv-install.sh
// patched it to bind 127.0.0.1. It is stopped with TERM, then KILL if it
// lingers.
func KinesisLocal(t testing.TB) *KinesisServer {
	t.Helper()
	dir := filepath.Join(Dir(t), "node_modules", "kinesis-local")
	if _, err := os.Stat(filepath.Join(dir, "main.js")); err != nil {
		t.Fatalf("testenv: kinesis-local is not installed: %v", err)
	}
	p := StartOnPort(t, "kinesis-local", func(port int) *exec.Cmd {
		cmd := Node(context.Background(), t, "main.js")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(),
			"KINESIS_MOCK_PLAIN_PORT="+strconv.Itoa(port), "KINESIS_MOCK_TLS_PORT=0",
			"SHARD_LIMIT=1000", "LOG_LEVEL=WARN",
			"CREATE_STREAM_DURATION=50ms", "DELETE_STREAM_DURATION=50ms",
			"UPDATE_SHARD_COUNT_DURATION=50ms", "SPLIT_SHARD_DURATION=50ms",
			"MERGE_SHARDS_DURATION=50ms", "REGISTER_STREAM_CONSUMER_DURATION=50ms",
			"DEREGISTER_STREAM_CONSUMER_DURATION=50ms", "START_STREAM_ENCRYPTION_DURATION=50ms",
			"STOP_STREAM_ENCRYPTION_DURATION=50ms",
		)
		return cmd
	})
	return &KinesisServer{Process: p, Client: KinesisClient(p.Endpoint(), idleClosing(t))}
}

// idleClosing returns a fresh transport whose idle connections are closed when
// t ends, so that goleak finds no connection goroutines.
func idleClosing(t testing.TB) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// String describes the server for test logs.
func (s *KinesisServer) String() string { return fmt.Sprintf("%s at %s", s.Name, s.Endpoint()) }
