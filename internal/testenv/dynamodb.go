package testenv

import (
	"context"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// DynamoDBServer is a DynamoDB API server started for one test.
type DynamoDBServer struct {
	*Process
	// Client talks to the server with dummy credentials (x/x) in us-east-1.
	Client *dynamodb.Client
}

// DynamoDBClient returns a client of the DynamoDB API at endpoint with dummy
// credentials (x/x) in us-east-1. A nil transport means a fresh
// http.Transport; the SDK's own retries stay enabled.
func DynamoDBClient(endpoint string, transport http.RoundTripper, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	if transport == nil {
		transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	opts := dynamodb.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("x", "x", ""),
		BaseEndpoint: aws.String(endpoint),
		HTTPClient:   &http.Client{Transport: transport},
	}
	return dynamodb.New(opts, optFns...)
}

// DynamoDBOptions returns the client options that point a dynamodb client at
// the server (endpoint, dummy credentials, us-east-1, a transport whose idle
// connections close when t ends), for code that builds its own client.
func (s *DynamoDBServer) DynamoDBOptions(t testing.TB) func(*dynamodb.Options) {
	tr := idleClosing(t)
	return func(o *dynamodb.Options) {
		o.Region = "us-east-1"
		o.Credentials = credentials.NewStaticCredentialsProvider("x", "x", "")
		o.BaseEndpoint = aws.String(s.Endpoint())
		o.HTTPClient = &http.Client{Transport: tr}
	}
}

// dynaliteScript starts dynalite through its JS API (its command line has no
// --host flag and would listen on every interface) on port 0 of 127.0.0.1,
// in memory, and writes the port it got in the line PrintedPort waits for.
const dynaliteScript = `
const server = require('./node_modules/dynalite')({
  createTableMs: 50, deleteTableMs: 50, updateTableMs: 50,
});
server.on('error', (err) => { console.error(err); process.exit(1); });
server.listen(0, '127.0.0.1', () => {
  console.log('testenv: listening on 127.0.0.1:' + server.address().port);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`

// Dynalite starts dynalite (DynamoDB on LevelDB in memory; no TTL API: its
// UpdateTimeToLive is unknown, so expired items are never deleted) on a
// loopback port it binds itself, for the duration of t. It fails t when the
// server cannot start.
func Dynalite(t testing.TB) *DynamoDBServer {
	t.Helper()
	cmd := Node(context.Background(), t, "-e", dynaliteScript)
	p := Start(t, "dynalite", cmd, PrintedPort)
	return &DynamoDBServer{Process: p, Client: DynamoDBClient(p.Endpoint(), idleClosing(t))}
}

// DynaliteForSDK starts dynalite as Dynalite does and points the standard AWS
// configuration at it for the rest of t (endpoint, region, credentials), as a
// user's environment would, for code that loads the SDK's configuration
// itself.
func DynaliteForSDK(t testing.TB) *DynamoDBServer {
	t.Helper()
	srv := Dynalite(t)
	for k, v := range map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": srv.Endpoint(), "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
		"AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"} {
		t.Setenv(k, v)
	}
	return srv
}
