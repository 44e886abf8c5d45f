package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/shardflow/shardflow/jobs"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/sinks/featurestore"
	"github.com/shardflow/shardflow/sinks/featurestore/stores"
	"github.com/spf13/cobra"
)

func newFeaturesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "features",
		Short: "Read the online features that a job keeps (see 'shardflow features get')",
	}
	cmd.AddCommand(newFeaturesGetCmd())
	return cmd
}

func newFeaturesGetCmd() *cobra.Command {
	var url, job string
	cmd := &cobra.Command{
		Use:   "get ENTITY_ID...",
		Short: "Print each entity's online features as one JSON object per line",
		Long: `Get reads the entities' rows from the online store of a job with features, the
way a model server does, and prints one JSON object per entity, in the order given:
the entity key, then every feature of the view (timestamps in RFC 3339, UTC). An
entity the store does not hold, or whose row has expired, has null features.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			def, err := jobs.Lookup(job)
			if err != nil {
				return err
			}
			if def.View == nil {
				return fmt.Errorf("--job %s keeps no online features; the jobs that do: %s", def.Name, strings.Join(featureJobs(), ", "))
			}
			loc, err := featurestore.ParseURL(url)
			if err != nil {
				return fmt.Errorf("--features: %w", err)
			}
			if _, err := os.Stat(loc.Target); loc.Scheme == "sqlite" && err != nil {
				// Opening it would create an empty store and print nulls.
				return fmt.Errorf("--features %s: no SQLite file at %s; run the job first, or name the store it wrote", url, loc.Target)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			return getFeatures(ctx, url, *def.View, args, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&url, "features", stores.Default, "the online store: sqlite://PATH | redis://HOST:PORT/DB | dynamodb://TABLE; ?layout=feast&project=NAME for Feast's layout (README: Feast layout)")
	cmd.Flags().StringVar(&job, "job", jobs.Features.Name, "the job whose feature view to read")
	return cmd
}

// featureJobs names the ready-made jobs that keep online features.
func featureJobs() []string {
	var names []string
	for _, d := range jobs.All() {
		if d.View != nil {
			names = append(names, d.Name)
		}
	}
	return names
}

func getFeatures(ctx context.Context, url string, view featurestore.View, entities []string, w io.Writer) error {
	store, err := stores.Open(ctx, url, view)
	if err != nil {
		return err
	}
	defer store.Close()
	rows, err := store.Get(ctx, entities)
	if err != nil {
		return err
	}
	for i, r := range rows {
		line, err := featureJSON(view, entities[i], r)
		if err != nil {
			return err
		}
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
	return nil
}

// featureJSON renders an entity's row as one line of JSON, the view's
// features in order; r nil gives null features.
func featureJSON(view featurestore.View, entity string, r *featurestore.Row) ([]byte, error) {
	var b bytes.Buffer
	field := func(name string, v any) error {
		k, err := json.Marshal(name)
		if err != nil {
			return err
		}
		val, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("features: %s of %s: %w", name, entity, err)
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(val)
		return nil
	}
	b.WriteByte('{')
	if err := field(view.Entity, entity); err != nil {
		return nil, err
	}
	for i, f := range view.Features {
		b.WriteByte(',')
		var v any
		if r != nil && !r.Values[i].Null {
			switch x := r.Values[i]; f.Type {
			case featurestore.Int64:
				v = x.Int
			case featurestore.Float64:
				v = x.Float
			case featurestore.String:
				v = x.Str
			case featurestore.Timestamp:
				v = pipeline.Time(x.Int).Format(time.RFC3339Nano)
			}
		}
		if err := field(f.Name, v); err != nil {
			return nil, err
		}
	}
	b.WriteString("}\n")
	return b.Bytes(), nil
}
