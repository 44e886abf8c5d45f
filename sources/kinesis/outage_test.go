package kinesis

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardflow/shardflow/internal/testenv"
)

// logRecorder is a slog.Handler that keeps every line, with its attributes
// flattened into the text, and wakes waiters on each.
type logRecorder struct {
	attrs []slog.Attr
	*lines
}

type lines struct {
	mu      sync.Mutex
	all     []logLine
	changed chan struct{}
}

type logLine struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

func newLogRecorder() *logRecorder {
	return &logRecorder{lines: &lines{changed: make(chan struct{})}}
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }
func (h *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &logRecorder{attrs: append(append([]slog.Attr(nil), h.attrs...), as...), lines: h.lines}
}

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l := logLine{Level: r.Level, Msg: r.Message, Attrs: map[string]string{}}
	for _, a := range h.attrs {
		l.Attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool { l.Attrs[a.Key] = a.Value.String(); return true })
	h.mu.Lock()
	defer h.mu.Unlock()
	h.all = append(h.all, l)
	close(h.changed)
	h.changed = make(chan struct{})
	return nil
}

// matching returns the lines at level whose message contains text.
func (h *logRecorder) matching(level slog.Level, text string) []logLine {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []logLine
	for _, l := range h.all {
		if l.Level == level && strings.Contains(l.Msg, text) {
			out = append(out, l)
		}
	}
	return out
}

// waitFor waits until cond holds, checking it after every new line.
func (h *logRecorder) waitFor(ctx context.Context, t testing.TB, what string, cond func() bool) {
	t.Helper()
	for {
		h.mu.Lock()
		ch := h.changed
		h.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		}
	}
}

// perShard counts lines by their shard attribute.
func perShard(ls []logLine) map[string]int {
	n := map[string]int{}
	for _, l := range ls {
		if sh := l.Attrs["shard"]; sh != "" {
			n[sh]++
		}
	}
	return n
}

// tcpProxy forwards a loopback port to a server; Stop closes the port and
// every connection through it (the client then meets "connection refused"),
// Start opens the same port again.
type tcpProxy struct {
	addr, target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func newTCPProxy(t testing.TB, target string) *tcpProxy {
	p := &tcpProxy{addr: "127.0.0.1:0", target: target, conns: map[net.Conn]bool{}} // the first Start binds a port of its own
	p.Start(t)
	t.Cleanup(func() { p.Stop() })
	return p
}

func (p *tcpProxy) Endpoint() string { return "http://" + p.addr }

func (p *tcpProxy) Start(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p.mu.Lock()
	p.ln = ln
	p.addr = ln.Addr().String() // later Starts open the same port again
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			p.wg.Go(func() { io.Copy(up, c); up.Close() })
			p.wg.Go(func() { io.Copy(c, up); c.Close() })
		}
	})
}

func (p *tcpProxy) Stop() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
	p.mu.Unlock()
	p.wg.Wait()
}

// failureMetrics counts failures by kind on top of countMetrics.
type failureMetrics struct {
	countMetrics
	fmu    sync.Mutex
	opened map[string]bool
	kinds  map[string]int
}

func (m *failureMetrics) ShardOpened(shard string) {
	m.fmu.Lock()
	defer m.fmu.Unlock()
	m.opened[shard] = true
}

func (m *failureMetrics) ReadFailed(_, kind string) {
	m.fmu.Lock()
	defer m.fmu.Unlock()
	m.kinds[kind]++
}

// TestKinesaliteOutage stops the server's port while a job reads a 2-shard
// stream: each shard's reader logs one warning naming the cause, Trouble
// shows it while it lasts, the failures are counted by kind, and when the
// port opens again each reader logs that it reads again, Trouble clears, and
// every record is read exactly once.
func TestKinesaliteOutage(t *testing.T) {
	srv := testenv.Kinesalite(t)
	const stream = "outage"
	testenv.CreateStream(t, srv.Client, stream, 2)
	w := &clickWriter{keys: 10}
	for r := range 10 {
		if err := putRound(t.Context(), srv.Client, stream, w.round(t, r)); err != nil {
			t.Fatal(err)
		}
	}
	proxy := newTCPProxy(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(srv.Port)))
	client := testenv.KinesisClient(proxy.Endpoint(), nil)
	logs := newLogRecorder()
	m := &failureMetrics{opened: map[string]bool{}, kinds: map[string]int{}}
	src, err := New(t.Context(), Config{Stream: stream, Client: client, PollInterval: MinCallInterval,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, MaxRetries: 1000,
		Logger: slog.New(logs), Metrics: m, Mem: checkedMem(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	readCtx, stopReading := context.WithCancel(ctx)
	job := &readJob{}
	rowsCh := make(chan int, 1)
	job.onRows = func(n int) {
		select {
		case rowsCh <- n:
		default:
		}
	}
	jobDone := make(chan struct{})
	go func() { defer close(jobDone); job.run(readCtx, t, src) }()
	defer func() { stopReading(); <-jobDone }()
	waitRows := func(n int) {
		t.Helper()
		for job.count() < n {
			select {
			case <-rowsCh:
			case <-ctx.Done():
				t.Fatalf("read %d of %d rows", job.count(), n)
			}
		}
	}
	waitRows(w.total)

	proxy.Stop()
	warned := func() map[string]int { return perShard(logs.matching(slog.LevelWarn, "failing, retrying")) }
	logs.waitFor(ctx, t, "a warning per shard", func() bool { return len(warned()) == 2 })
	for _, l := range logs.matching(slog.LevelWarn, "GetRecords failing, retrying") {
		t.Logf("warn: %s %v", l.Msg, l.Attrs)
		if !strings.Contains(l.Msg, "connection refused") || l.Attrs["kind"] != "connection" {
			t.Errorf("warning %q %v does not name the refused connection", l.Msg, l.Attrs)
		}
	}
	trouble := src.Trouble()
	if len(trouble) != 2 {
		t.Errorf("Trouble = %v, want both shards", trouble)
	}
	for sh, what := range trouble {
		if !strings.Contains(what, "connection refused") {
			t.Errorf("Trouble[%s] = %q, want the cause", sh, what)
		}
	}
	m.fmu.Lock()
	if m.kinds["connection"] < 6 || len(m.opened) != 2 {
		t.Errorf("failures by kind %v, shards opened %v: want at least 3 connection failures per shard", m.kinds, m.opened)
	}
	m.fmu.Unlock()

	// Records put during the outage are read after it.
	for r := 10; r < 20; r++ {
		if err := putRound(t.Context(), srv.Client, stream, w.round(t, r)); err != nil {
			t.Fatal(err)
		}
	}
	proxy.Start(t)
	recovered := func() map[string]int { return perShard(logs.matching(slog.LevelInfo, "reading again after")) }
	logs.waitFor(ctx, t, "a recovery line per shard", func() bool { return len(recovered()) == 2 })
	waitRows(w.total)
	for _, l := range logs.matching(slog.LevelInfo, "reading again after") {
		t.Logf("info: %s %v", l.Msg, l.Attrs)
	}
	if got := src.Trouble(); got != nil {
		t.Errorf("Trouble after the outage = %v", got)
	}
	for sh, n := range warned() {
		if n != 1 {
			t.Errorf("shard %s warned %d times, want once", sh, n)
		}
	}
	stopReading()
	<-jobDone
	checkClicks(t, job.rows, w)
}

// TestShardsNamesTheCause: a source whose endpoint refuses connections says
// so when it gives up, under a deadline or out of attempts, instead of only
// "context deadline exceeded".
func TestShardsNamesTheCause(t *testing.T) {
	endpoint := "http://127.0.0.1:1" // tcpmux: nothing listens there, so connections are refused
	base := testenv.KinesisClient(endpoint, nil)
	logs := newLogRecorder()
	src, err := New(t.Context(), Config{Stream: "clicks", Client: base, MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 50 * time.Millisecond, MaxRetries: 1000, Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	_, err = src.Shards(ctx)
	t.Logf("under a deadline: %v", err)
	if err == nil || !strings.Contains(err.Error(), `list shards of stream "clicks": giving up after `) ||
		!strings.Contains(err.Error(), "last error: dial tcp "+endpoint[len("http://"):]+": connect: connection refused") {
		t.Errorf("Shards = %v, want it to give up naming the refused connection", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%v does not wrap the deadline", err)
	}
	if ws := logs.matching(slog.LevelWarn, "failing, retrying: dial tcp"); len(ws) != 1 {
		t.Errorf("%d warnings, want 1: %v", len(ws), logs.all)
	}

	src, err = New(t.Context(), Config{Stream: "clicks", Client: base, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, MaxRetries: 3})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Shards(t.Context())
	t.Logf("out of attempts: %v", err)
	if err == nil || !strings.Contains(err.Error(), "giving up after 4 attempts") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Shards = %v, want it to give up after 4 attempts naming the refused connection", err)
	}
}
