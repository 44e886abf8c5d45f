package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/shardflow/shardflow/pipeline"
)

// backfiller is a source that backfills up to the tips it captured at the
// start and then follows the stream live (kinesis.Config.Backfill).
type backfiller interface {
	Backfill() (passed, total int)
}

// thenRunProgress shows a backfill's progress (bars, the replay's) until
// every shard has passed its tip, then says so and shows the live job's
// status line (mode, as run's --status).
func thenRunProgress(bars func(*pipeline.Job, pipeline.Source, io.Writer) func(), mode string) func(*pipeline.Job, pipeline.Source, io.Writer) func() {
	return func(job *pipeline.Job, src pipeline.Source, stderr io.Writer) func() {
		bf, ok := src.(backfiller)
		if !ok {
			return startStatus(mode, job, stderr)
		}
		started := time.Now()
		stopBars := bars(job, src, stderr)
		var stopStatus func()
		quit, finished := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(finished)
			tick := time.NewTicker(250 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-quit:
					return
				case <-tick.C:
				}
				if passed, total := bf.Backfill(); total == 0 || passed < total {
					continue
				}
				stopBars()
				stopBars = nil
				if mode != "off" {
					fmt.Fprintf(stderr, "backfill done after %s: %s records, every shard read up to its tip; following the stream live\n",
						time.Since(started).Round(time.Second), count(job.Stats().RecordsIn))
				}
				stopStatus = startStatus(mode, job, stderr)
				return
			}
		}()
		var once sync.Once
		return func() {
			once.Do(func() {
				close(quit)
				<-finished
				if stopBars != nil {
					stopBars()
				}
				if stopStatus != nil {
					stopStatus()
				}
			})
		}
	}
}
