package main

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/bytedance/sonic"
	gojson "github.com/goccy/go-json"
	"github.com/reugn/go-streams"
	"github.com/reugn/go-streams/extension"
	"github.com/reugn/go-streams/flow"
)

// decoders are the JSON decoders the go-streams pipeline can unmarshal Events with.
var decoders = map[string]func([]byte, any) error{
	"encoding/json": json.Unmarshal,
	"goccy/go-json": gojson.Unmarshal,
	"sonic":         sonic.Unmarshal,
}

// gsConfig is how the go-streams pipeline is put together.
type gsConfig struct {
	// window is the size of flow.NewTumblingWindow's processing-time windows,
	// which hand the events to the aggregating sink in slices; 0 leaves the
	// window out and the sink takes one event per element.
	window time.Duration
	// decoder names the JSON decoder (a key of decoders).
	decoder string
	// parallelism is the decoding Map's; the aggregation does not depend on order.
	parallelism int
	// sourceBuffer is the capacity of the source channel.
	sourceBuffer int
}

// runGoStreams runs the go-streams pipeline over items (*Event, or []byte
// JSON lines when fromJSON):
//
//	ChanSource -> [Map(decode)] -> TumblingWindow[*Event] -> aggregating Sink
//
// The sink keeps, per (one-minute window of ts, page), the count and the set
// of user ids. go-streams' windows fire on the wall clock (the event-time
// SlidingWindow too: it only sorts by event time), so the event-time
// windows are the sink's keys, and its windows only hand events over in
// slices.
func runGoStreams(items []any, fromJSON, distinct bool, cfg gsConfig) (result, error) {
	unmarshal, ok := decoders[cfg.decoder]
	if !ok {
		return nil, fmt.Errorf("go-streams: no JSON decoder %q", cfg.decoder)
	}
	ch := make(chan any, cfg.sourceBuffer)
	go func() {
		for _, it := range items {
			ch <- it
		}
		close(ch)
	}()
	var bad atomic.Int64
	var tail streams.Flow
	var src streams.Source = extension.NewChanSource(ch)
	if fromJSON {
		tail = src.Via(flow.NewMap(func(line []byte) *Event {
			e := new(Event)
			if err := unmarshal(line, e); err != nil || e.TS.IsZero() {
				bad.Add(1)
				return nil
			}
			return e
		}, cfg.parallelism))
	}
	if cfg.window > 0 {
		w := flow.NewTumblingWindow[*Event](cfg.window)
		if tail == nil {
			tail = src.Via(w)
		} else {
			tail = tail.Via(w)
		}
	}
	sink := newAggSink(distinct)
	if tail == nil {
		flow.DoStream(src, sink)
		sink.AwaitCompletion()
	} else {
		tail.To(sink)
	}
	if n := bad.Load() + sink.bad; n > 0 {
		return nil, fmt.Errorf("go-streams: %d records could not be decoded", n)
	}
	return sink.result(), nil
}

// aggSink aggregates events per (window, page) as they arrive.
type aggSink struct {
	in       chan any
	done     chan struct{}
	distinct bool
	groups   map[rowKey]*group
	bad      int64
}

type group struct {
	events int64
	users  map[string]struct{}
}

var _ streams.Sink = (*aggSink)(nil)

func newAggSink(distinct bool) *aggSink {
	s := &aggSink{in: make(chan any), done: make(chan struct{}), distinct: distinct, groups: map[rowKey]*group{}}
	go s.run()
	return s
}

func (s *aggSink) In() chan<- any   { return s.in }
func (s *aggSink) AwaitCompletion() { <-s.done }

func (s *aggSink) run() {
	defer close(s.done)
	for el := range s.in {
		switch el := el.(type) {
		case []*Event:
			for _, e := range el {
				s.add(e)
			}
		case *Event:
			s.add(el)
		default:
			s.bad++
		}
	}
}

func (s *aggSink) add(e *Event) {
	if e == nil {
		s.bad++
		return
	}
	k := rowKey{start: windowStart(e.TS.UnixMilli()), page: e.Page}
	g := s.groups[k]
	if g == nil {
		g = &group{}
		if s.distinct {
			g.users = map[string]struct{}{}
		}
		s.groups[k] = g
	}
	g.events++
	if s.distinct {
		g.users[e.UserID] = struct{}{}
	}
}

func (s *aggSink) result() result {
	res := make(result, len(s.groups))
	for k, g := range s.groups {
		v := rowVal{events: g.events, users: -1}
		if s.distinct {
			v.users = int64(len(g.users))
		}
		res[k] = v
	}
	return res
}
