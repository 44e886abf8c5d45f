package operators_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/operators"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/pipeline/checkpoint"
	"github.com/shardflow/shardflow/sources/generator"
)

// rowSink keeps the page and category of every row it is given.
type rowSink struct {
	mu             sync.Mutex
	page, category int
	rows, matched  int
	wrong          []string
	categoryOf     map[string]string
}

func (s *rowSink) Name() string { return "rows" }

func (s *rowSink) Bind(schema *arrow.Schema) error {
	p, c := schema.FieldIndices("page"), schema.FieldIndices("category")
	if len(p) != 1 || len(c) != 1 {
		return fmt.Errorf("rows: schema %s has no page and category", schema)
	}
	s.page, s.category = p[0], c[0]
	return nil
}

func (s *rowSink) Write(_ context.Context, b *pipeline.Batch) error {
	defer b.Release()
	s.mu.Lock()
	defer s.mu.Unlock()
	page, cat := b.Rec.Column(s.page).(*array.String), b.Rec.Column(s.category).(*array.String)
	for i := range b.Len() {
		s.rows++
		want, ok := s.categoryOf[page.Value(i)]
		switch {
		case ok && cat.IsValid(i) && cat.Value(i) == want:
			s.matched++
		case !ok && cat.IsNull(i):
		default:
			s.wrong = append(s.wrong, fmt.Sprintf("page %q: category %q (valid %v)", page.Value(i), cat.ValueStr(i), cat.IsValid(i)))
		}
	}
	return nil
}

func (s *rowSink) Close(context.Context) error { return nil }

// TestEnrichInAJob runs generated clickstream events through JSON decoding
// and Enrich with a catalogue of the product pages, checks every row, and
// checks that a checkpoint of the job is refused once the table changes.
func TestEnrichInAJob(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	categoryOf := map[string]string{}
	var csv strings.Builder
	csv.WriteString("page,category,title\n")
	for i := 101; i <= 110; i++ {
		page := fmt.Sprintf("/product/%d", i)
		categoryOf[page] = fmt.Sprintf("cat-%d", i%3)
		fmt.Fprintf(&csv, "%s,%s,Product %d\n", page, categoryOf[page], i)
	}
	path := filepath.Join(t.TempDir(), "pages.csv")
	if err := os.WriteFile(path, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	store := checkpoint.NewMemory()
	const events = 20_000
	build := func(sink *rowSink) *pipeline.Job {
		src, err := generator.New(generator.Config{Shards: 3, Events: events, Seed: 5, BatchSize: 700, Mem: mem})
		if err != nil {
			t.Fatal(err)
		}
		job, err := pipeline.New("enrich").
			From(src).
			Decode(operators.JSON(generator.ClickstreamSchema, operators.JSONOptions{Required: []string{"ts"}})).
			Apply(operators.Enrich(operators.CSVTable(path, nil), "page", "category", "title")).
			To(sink).
			Checkpoints(store, time.Hour).
			Build(pipeline.WithAllocator(mem))
		if err != nil {
			t.Fatal(err)
		}
		return job
	}
	sink := &rowSink{categoryOf: categoryOf}
	job := build(sink)
	if err := job.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(sink.wrong) > 0 {
		t.Fatalf("%d rows wrong, first: %s", len(sink.wrong), sink.wrong[0])
	}
	if sink.rows != events || sink.matched == 0 || sink.matched == events {
		t.Fatalf("%d rows, %d matched; want %d rows, some of them product pages", sink.rows, sink.matched, events)
	}

	// The same job over another table has another fingerprint, and the
	// checkpoint of the first run is refused.
	if err := os.WriteFile(path, []byte(strings.Replace(csv.String(), "cat-0", "cat-9", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	job2 := build(&rowSink{categoryOf: categoryOf})
	if job2.Fingerprint() == job.Fingerprint() {
		t.Fatalf("fingerprint %s did not change with the table", job.Fingerprint())
	}
	if err := job2.Run(context.Background()); !errors.Is(err, pipeline.ErrIncompatibleCheckpoint) {
		t.Fatalf("run over another table: %v, want %v", err, pipeline.ErrIncompatibleCheckpoint)
	}
}
