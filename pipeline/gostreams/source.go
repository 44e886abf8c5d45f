package gostreams

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/reugn/go-streams"
	"github.com/reugn/go-streams/flow"
	"github.com/shardflow/shardflow/pipeline"
)

// Source emits the raw batches of every shard of a pipeline.Source; a child
// shard is read only after its parents have ended. For a bounded source, Out
// closes once every shard has ended; otherwise when ctx ends.
type Source struct {
	out chan any
	errs
}

var _ streams.Source = (*Source)(nil)

// NewSource starts reading src; it stops when ctx ends.
func NewSource(ctx context.Context, src pipeline.Source) *Source {
	s := &Source{out: make(chan any)}
	go s.run(ctx, src)
	return s
}

func (s *Source) run(ctx context.Context, src pipeline.Source) {
	defer close(s.out)
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
		return fmt.Errorf("gostreams: shard %s: open: %w", sh.ID, err)
	}
	defer r.Close()
	for {
		b, err := r.Read(ctx)
		switch {
		case errors.Is(err, pipeline.ErrShardEnd):
			return nil
		case err != nil:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("gostreams: shard %s: read: %w", sh.ID, err)
		case b == nil:
			continue
		}
		select {
		case s.out <- b:
		case <-ctx.Done():
			b.Release()
			return nil
		}
	}
}

// Out is the channel of *pipeline.Batch elements.
func (s *Source) Out() <-chan any { return s.out }

// Via streams the source's batches into f.
func (s *Source) Via(f streams.Flow) streams.Flow {
	flow.DoStream(s, f)
	return f
}
