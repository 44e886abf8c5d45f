// Command quickstart is the job the README walks through: revenue and buyers
// per referrer and 5 minutes of event time, from synthetic clickstream into a
// Parquet table, exactly once, resumable.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/shardflow/shardflow/expr"
	"github.com/shardflow/shardflow/operators"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/pipeline/checkpoint"
	"github.com/shardflow/shardflow/sinks/jsonl"
	"github.com/shardflow/shardflow/sinks/parquet"
	"github.com/shardflow/shardflow/sources/generator"
	"github.com/shardflow/shardflow/windows"
)

func main() {
	src, err := generator.New(generator.Config{Shards: 4, Events: 200_000, Seed: 7, BadEvery: 10_000})
	check(err)
	table, err := parquet.New(parquet.Config{Dir: "quickstart-data/out", Table: "referrer_revenue"})
	check(err)
	dead, err := jsonl.New(jsonl.Config{Dir: "quickstart-data/out/dead_letter"})
	check(err)
	store, err := checkpoint.NewDir("quickstart-data/checkpoints", checkpoint.DirConfig{})
	check(err)

	job, err := pipeline.New("referrer-revenue").
		From(src).
		Decode(operators.JSON(generator.ClickstreamSchema, operators.JSONOptions{Required: []string{"ts"}})).
		Apply(operators.Filter(expr.Eq("event_type", "purchase"))).
		Watermark("ts", 10*time.Second).
		KeyBy("referrer").
		Window(windows.Tumbling(5*time.Minute).Aggregate(
			windows.Count("purchases"),
			windows.Sum("revenue", "price"),
			windows.Max("largest", "price"),
			windows.CountDistinct("buyers", "user_id"),
		)).
		To(table).
		DeadLetters(dead).
		Checkpoints(store, 5*time.Second).
		Build()
	check(err) // a typo in a column name stops here, before any record is read

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() { <-ctx.Done(); job.Shutdown(context.Background()) }() // Ctrl-C: final checkpoint
	check(job.Run(context.Background()))
	st := job.Stats()
	fmt.Printf("%d records in, %d rows out, %d dead letters\n", st.RecordsIn, st.RowsOut, st.DeadLetters)
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
