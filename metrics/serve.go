package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ShutdownTimeout bounds how long Serve waits for in-flight scrapes once its
// context ends.
const ShutdownTimeout = 5 * time.Second

// Listen binds addr ("host:port", ":9090", "127.0.0.1:0") for Serve. Call it
// before starting any work so that a bad or busy address fails the command at
// once.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen: %w", err)
	}
	return ln, nil
}

// Serve answers GET /metrics on ln with what g gathers until ctx ends, then
// shuts the server down (waiting at most ShutdownTimeout for in-flight
// scrapes) and returns nil. It returns an error when serving fails. Serve owns
// ln and closes it; it returns only after its goroutine has ended.
func Serve(ctx context.Context, ln net.Listener, g prometheus.Gatherer) error {
	if ln == nil || g == nil {
		if ln != nil {
			ln.Close()
		}
		return errors.New("metrics: Serve needs a listener and a gatherer")
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done: // Serve never returns nil; ErrServerClosed is impossible here
		return fmt.Errorf("metrics: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		srv.Close() // drop scrapes that outlived the timeout
	}
	<-done // http.ErrServerClosed
	if err != nil {
		return fmt.Errorf("metrics: shutdown: %w", err)
	}
	return nil
}
