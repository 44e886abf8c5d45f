package metrics_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shardflow/shardflow/metrics"
)

// TestServe scrapes the real server, then cancels its context and checks that
// Serve returns nil and the port is closed (goleak checks the goroutines).
func TestServe(t *testing.T) {
	m, reg, _ := newMetrics(t)
	m.ShardRead("shardId-000", 3, 30)
	m.MillisBehind("shardId-000", 1500)

	ln, err := metrics.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- metrics.Serve(ctx, ln, reg) }()

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body)
	}

	code, body := get("/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: status %d", code)
	}
	for _, want := range []string{
		`shardflow_records_in_total{job="clickstream",shard="shardId-000"} 3`,
		`shardflow_bytes_in_total{job="clickstream",shard="shardId-000"} 30`,
		`shardflow_millis_behind_latest{job="clickstream",shard="shardId-000"} 1500`,
		`shardflow_checkpoints_total{job="clickstream",result="ok"} 0`,
		`shardflow_checkpoint_age_seconds{job="clickstream"} 0`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("scrape lacks %q:\n%s", want, body)
		}
	}
	if code, _ := get("/"); code != http.StatusNotFound {
		t.Errorf("GET /: status %d, want 404", code)
	}

	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
	if _, err := client.Get("http://" + addr + "/metrics"); err == nil {
		t.Fatal("server still answers after Serve returned")
	}
	client.CloseIdleConnections()
}

func TestListenRejects(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	for _, addr := range []string{
		busy.Addr().String(), // in use
		"127.0.0.1:99999",    // port out of range
		"no-port",            // missing port
		"256.1.1.1:0",        // not an address
	} {
		t.Run(addr, func(t *testing.T) {
			ln, err := metrics.Listen(addr)
			if err == nil {
				ln.Close()
				t.Fatalf("Listen(%q) succeeded", addr)
			}
			if !strings.HasPrefix(err.Error(), "metrics: listen: ") {
				t.Errorf("Listen(%q): error %q lacks the package prefix", addr, err)
			}
		})
	}
}

func TestServeRejectsNil(t *testing.T) {
	ln, err := metrics.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := metrics.Serve(t.Context(), ln, nil); err == nil {
		t.Fatal("Serve with a nil gatherer succeeded")
	}
	// Serve owns the listener: it was closed.
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("listener after rejected Serve: Accept err = %v, want net.ErrClosed", err)
	}
	if err := metrics.Serve(t.Context(), nil, prometheus.NewRegistry()); err == nil {
		t.Fatal("Serve with a nil listener succeeded")
	}
}

// A listener that fails makes Serve return the error instead of waiting for ctx.
func TestServeReportsServeError(t *testing.T) {
	ln, err := metrics.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	err = metrics.Serve(t.Context(), ln, prometheus.NewRegistry())
	if err == nil || !strings.HasPrefix(err.Error(), "metrics: serve: ") {
		t.Fatalf("Serve on a closed listener: err = %v", err)
	}
}
