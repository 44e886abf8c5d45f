package testenv

import (
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// streams lists the streams of srv.
func streams(t *testing.T, srv *KinesisServer) []string {
	t.Helper()
	out, err := srv.Client.ListStreams(t.Context(), &kinesis.ListStreamsInput{})
	if err != nil {
		t.Fatalf("%s: list streams: %v", srv, err)
	}
	return out.StreamNames
}

// Two servers that run at once are on distinct ports, and each port answers
// as its own server: a stream created on one is not on the other.
func TestKinesisServersOwnTheirPorts(t *testing.T) {
	servers := []*KinesisServer{Kinesalite(t), Kinesalite(t), KinesisLocal(t), KinesisLocal(t)}
	for i, srv := range servers {
		for _, other := range servers[:i] {
			if srv.Port == other.Port {
				t.Fatalf("%s and %s share a port", srv, other)
			}
		}
		CreateStream(t, srv.Client, srv.Name+"-"+string(rune('a'+i)), 1)
	}
	for i, srv := range servers {
		want := []string{srv.Name + "-" + string(rune('a'+i))}
		if got := streams(t, srv); !slices.Equal(got, want) {
			t.Errorf("%s has streams %v, want %v", srv, got, want)
		}
	}
}
