package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/shardflow/shardflow/sinks/kinesis"
	"github.com/shardflow/shardflow/sources/generator"
	source "github.com/shardflow/shardflow/sources/kinesis"
	"github.com/spf13/cobra"
)

type produceFlags struct {
	stream    string
	events    int64
	rate      float64
	aggregate bool
	seed      int64
	badEvery  int64
}

func newProduceCmd() *cobra.Command {
	f := produceFlags{}
	cmd := &cobra.Command{
		Use:   "produce --stream S --events N [--rate R] [--aggregate]",
		Short: "Write generator clickstream into a Kinesis stream (partition key: user_id)",
		Long: `Produce writes the generator's clickstream events into a stream with PutRecords,
retrying the records that fail; --aggregate packs them as KPL aggregates. With
--seed and --events as for 'run --source generator', the stream holds the events
that run would read from the generator, interleaved by event time.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.validate(); err != nil {
				return err
			}
			return produce(cmd.Context(), f, cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.stream, "stream", "", "stream name or ARN (required)")
	fl.Int64Var(&f.events, "events", 10_000, "events to write")
	fl.Float64Var(&f.rate, "rate", 0, "events per second (0: as fast as the stream takes them)")
	fl.BoolVar(&f.aggregate, "aggregate", false, "pack events into KPL aggregated records")
	fl.Int64Var(&f.seed, "seed", 1, "generator seed")
	fl.Int64Var(&f.badEvery, "bad-every", 0, "every Nth event of a generator shard is malformed (0: none)")
	return cmd
}

func (f produceFlags) validate() error {
	var errs []error
	if f.stream == "" {
		errs = append(errs, errors.New("--stream is required"))
	}
	if f.events <= 0 || f.rate < 0 || f.badEvery < 0 {
		errs = append(errs, errors.New("--events wants > 0, --rate and --bad-every >= 0"))
	}
	return errors.Join(errs...)
}

func produce(ctx context.Context, f produceFlags, stdout io.Writer) error {
	gen := generator.Config{Events: f.events, Seed: f.seed, BadEvery: f.badEvery}
	ref, err := generator.NewReference(gen)
	if err != nil {
		return err
	}
	client, err := source.LoadClient(ctx)
	if err != nil {
		return err
	}
	p, err := kinesis.NewProducer(kinesis.ProducerConfig{Stream: f.stream, Client: client, Aggregate: f.aggregate, Linger: 200 * time.Millisecond})
	if err != nil {
		return err
	}
	start := time.Now()
	shards := ref.Config().Shards
	var buf []byte
	var n int64
	for i := int64(0); n < f.events; i++ { // round-robin over the generator's shards: event time rises evenly
		for s := 0; s < shards && n < f.events; s++ {
			if i >= ref.ShardEvents(s) {
				continue
			}
			if f.rate > 0 {
				if err := pace(ctx, start, n, f.rate); err != nil {
					return err
				}
			}
			var key string
			buf, key, _ = ref.Append(buf[:0], s, i)
			if err := p.Put(ctx, key, buf); err != nil {
				return fmt.Errorf("produce: event %d: %w", n, err)
			}
			n++
		}
	}
	if err := p.Flush(ctx); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	st := p.Stats()
	elapsed := time.Since(start)
	fmt.Fprintf(stdout, "produced %s events to %s in %s (%s events/s): %s Kinesis records, %s PutRecords calls, %s retries\n",
		count(n), f.stream, elapsed.Round(time.Millisecond), count(int64(float64(n)/elapsed.Seconds())),
		count(st.KinesisRecords), count(st.Calls), count(st.Retries))
	return nil
}

// pace waits until event n is due at rate events per second from start.
func pace(ctx context.Context, start time.Time, n int64, rate float64) error {
	due := start.Add(time.Duration(float64(n) / rate * float64(time.Second)))
	wait := time.Until(due)
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
