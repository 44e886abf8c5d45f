package gostreams

import (
	"context"
	"fmt"
	"sync"

	"github.com/reugn/go-streams"
	"github.com/reugn/go-streams/flow"
	"github.com/shardflow/shardflow/pipeline"
)

// Source emits the raw batches of every shard of a pipeline.Source; a child
// shard is read only after its parents have ended. For a bounded source, Out
// closes once every shard has ended; otherwise when ctx ends or a stage after
// it fails.
type Source struct {
	out  chan any
	stop context.CancelFunc // ends the reading early: a downstream adapter failed
	errs
}

var _ streams.Source = (*Source)(nil)

// NewSource starts reading src; it stops when ctx ends (Err then reports
// ctx's error).
func NewSource(ctx context.Context, src pipeline.Source) *Source {
	readCtx, stop := context.WithCancel(ctx)
	s := &Source{out: make(chan any), stop: stop}
	go s.run(ctx, readCtx, src)
	return s
}

func (s *Source) run(ctx, readCtx context.Context, src pipeline.Source) {
	defer close(s.out)
	defer s.stop()
	s.readAll(readCtx, src)
	if ctx.Err() != nil {
		s.set(ctx.Err())
	}
	if err := s.Err(); err != nil {
		send(ctx, s.out, failed{err}) // so that no sink commits what came before
	}
}

func (s *Source) readAll(ctx context.Context, src pipeline.Source) {
	shards, err := src.Shards(ctx)
	if err != nil {
		s.set(fmt.Errorf("gostreams: list shards of %s: %w", src.Name(), err))
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ended := make(map[string]chan struct{}, len(shards))
	for _, sh := range shards {
		ended[sh.ID] = make(chan struct{})
	}
	var wg sync.WaitGroup
	for _, sh := range shards {
		wg.Go(func() {
			defer close(ended[sh.ID])
			for _, p := range sh.Parents {
				if done, ok := ended[p]; ok {
					select {
					case <-done:
					case <-ctx.Done():
						return
					}
				}
			}
			if err := s.readShard(ctx, src, sh); err != nil {
				s.set(err)
				cancel()
			}
		})
	}
	wg.Wait()
}

func (s *Source) readShard(ctx context.Context, src pipeline.Source, sh pipeline.Shard) error {
	r, err := src.OpenShard(ctx, sh, pipeline.Position{})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("gostreams: shard %s: open: %w", sh.ID, err)
	}
	defer r.Close()
	for {
		b, err := r.Read(ctx)
		switch {
		case pipeline.ReadEnded(err):
			return nil
		case err != nil:
			b.Release()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("gostreams: shard %s: read: %w", sh.ID, err)
		case b == nil:
			continue
		}
		if !send(ctx, s.out, b) {
			b.Release()
			return nil
		}
	}
}

// Out is the channel of *pipeline.Batch elements.
func (s *Source) Out() <-chan any { return s.out }

// Via streams the source's batches into f.
func (s *Source) Via(f streams.Flow) streams.Flow {
	if next, ok := f.(*Flow); ok {
		next.up.set(s.stop)
	}
	flow.DoStream(s, f)
	return f
}
