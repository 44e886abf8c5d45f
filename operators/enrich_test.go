package operators

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shardflow/shardflow/pipeline"
)

// writeFile writes content to name under a fresh temporary directory.
func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// pageTable is a random page catalogue: page -> category, views, and the
// CSV file that holds it.
type pageTable struct {
	category map[string]string
	views    map[string]int64
	pages    []string
}

func randomPages(r *rand.Rand, n int) pageTable {
	// The empty page is a key, which a null page must not match.
	pt := pageTable{category: map[string]string{"": "none"}, views: map[string]int64{"": 1}, pages: []string{""}}
	for len(pt.pages) < n {
		p := fmt.Sprintf("/p/%d", r.IntN(10*n))
		if _, ok := pt.category[p]; ok {
			continue
		}
		pt.pages = append(pt.pages, p)
		pt.category[p] = fmt.Sprintf("cat-%d", r.IntN(7))
		if r.IntN(5) > 0 { // a fifth of the views are empty cells: null
			pt.views[p] = r.Int64N(1 << 40)
		}
	}
	return pt
}

func (pt pageTable) csv() string {
	var sb strings.Builder
	sb.WriteString("category,page,views\n")
	for _, p := range pt.pages {
		v := ""
		if x, ok := pt.views[p]; ok {
			v = fmt.Sprint(x)
		}
		fmt.Fprintf(&sb, "%s,%s,%s\n", pt.category[p], p, v)
	}
	return sb.String()
}

var visitSchema = arrow.NewSchema([]arrow.Field{
	{Name: "user_id", Type: arrow.BinaryTypes.String},
	{Name: "page", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// visitBatch builds a batch of events whose pages are keys (nil is a null
// page), sliced by skip rows at the front so that the key column has an
// offset.
func visitBatch(mem memory.Allocator, keys []*string, skip int) *pipeline.Batch {
	rb := array.NewRecordBuilder(mem, visitSchema)
	defer rb.Release()
	for range skip {
		rb.Field(0).(*array.StringBuilder).Append("skipped")
		rb.Field(1).(*array.StringBuilder).Append("/p/0")
	}
	for i, k := range keys {
		rb.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("u%d", i))
		if k == nil {
			rb.Field(1).AppendNull()
		} else {
			rb.Field(1).(*array.StringBuilder).Append(*k)
		}
	}
	rec := rb.NewRecordBatch()
	defer rec.Release()
	return &pipeline.Batch{Rec: rec.NewSlice(int64(skip), rec.NumRows()), Shard: "shard-1",
		First: pipeline.OffsetPosition(1), Last: pipeline.OffsetPosition(int64(len(keys)))}
}

// TestEnrichMatchesReference joins random keys (hits, misses and nulls)
// against a random table and checks every row against the table's maps.
func TestEnrichMatchesReference(t *testing.T) {
	for _, drop := range []bool{false, true} {
		t.Run(fmt.Sprintf("drop=%v", drop), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			r := rand.New(rand.NewPCG(7, 9))
			pt := randomPages(r, 500)
			path := writeFile(t, "pages.csv", pt.csv())
			stage := Enrich(CSVTable(path, map[string]arrow.DataType{"views": arrow.PrimitiveTypes.Int64}), "page", "views", "category")
			if drop {
				stage.DropUnmatched()
			}
			out, op := newOp(t, mem, stage, visitSchema)
			want := "user_id:utf8,page:utf8,views:int64,category:utf8"
			if got := schemaString(out); got != want {
				t.Fatalf("schema %s, want %s", got, want)
			}
			var totalIn, totalMatched int64
			for round := range 5 {
				keys := make([]*string, 1000+round)
				for i := range keys {
					switch x := r.IntN(10); {
					case x == 0:
					case x < 3:
						k := fmt.Sprintf("/missing/%d", r.IntN(100))
						keys[i] = &k
					default:
						keys[i] = &pt.pages[r.IntN(len(pt.pages))]
					}
				}
				var wantRows []string
				for i, k := range keys {
					row := fmt.Sprintf("user_id=u%d page=", i)
					if k == nil {
						row += "null"
					} else {
						row += *k
					}
					cat, ok := "", false
					if k != nil {
						cat, ok = pt.category[*k]
					}
					if !ok {
						if !drop {
							wantRows = append(wantRows, row+" views=null category=null")
						}
						continue
					}
					totalMatched++
					views := "null"
					if v, ok := pt.views[*k]; ok {
						views = fmt.Sprint(v)
					}
					wantRows = append(wantRows, row+" views="+views+" category="+cat)
				}
				totalIn += int64(len(keys))
				main, dead := collect(t, op, visitBatch(mem, keys, round))
				if len(dead) != 0 || len(main) != 1 {
					t.Fatalf("%d batches and %d dead letters, want 1 batch", len(main), len(dead))
				}
				got := rowStrings(main[0].Rec)
				if main[0].Shard != "shard-1" || main[0].Last != pipeline.OffsetPosition(int64(len(keys))) {
					t.Errorf("batch metadata %s %s, want shard-1 and its last position", main[0].Shard, main[0].Last)
				}
				releaseAll(main)
				if len(got) != len(wantRows) {
					t.Fatalf("round %d: %d rows, want %d", round, len(got), len(wantRows))
				}
				for i := range got {
					if got[i] != wantRows[i] {
						t.Fatalf("round %d row %d:\n got %s\nwant %s", round, i, got[i], wantRows[i])
					}
				}
			}
			c := op.(*EnrichOperator).Counters()
			if c["rows_in"] != totalIn || c["matched"] != totalMatched || c["unmatched"] != totalIn-totalMatched {
				t.Errorf("counters %v, want rows_in=%d matched=%d", c, totalIn, totalMatched)
			}
			if totalMatched == 0 || totalMatched == totalIn {
				t.Fatalf("the random keys gave %d matches of %d: not a test of misses and hits", totalMatched, totalIn)
			}
		})
	}
}

func schemaString(s *arrow.Schema) string {
	parts := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		parts[i] = f.Name + ":" + f.Type.String()
	}
	return strings.Join(parts, ",")
}

// TestEnrichIntegerKeys joins an int32 column against a table whose key is
// declared int64, under another name (TableKey).
func TestEnrichIntegerKeys(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := writeFile(t, "users.csv", "id,country,vip\n7,fr,true\n-3,de,false\n42,,\n")
	stage := Enrich(CSVTable(path, map[string]arrow.DataType{"id": arrow.PrimitiveTypes.Int64, "vip": arrow.FixedWidthTypes.Boolean}),
		"uid", "country", "vip").TableKey("id")
	in := arrow.NewSchema([]arrow.Field{{Name: "uid", Type: arrow.PrimitiveTypes.Int32, Nullable: true}}, nil)
	_, op := newOp(t, mem, stage, in)
	b := array.NewInt32Builder(mem)
	b.AppendValues([]int32{42, 7, 8, 0, -3}, []bool{true, true, true, false, true})
	col := b.NewArray()
	b.Release()
	rec := array.NewRecordBatch(in, []arrow.Array{col}, 5)
	col.Release()
	main, _ := collect(t, op, &pipeline.Batch{Rec: rec, Shard: "s"})
	defer releaseAll(main)
	got := strings.Join(rowStrings(main[0].Rec), "\n")
	want := strings.Join([]string{
		"uid=42 country= vip=null", // a string cell is never null; an empty bool is
		"uid=7 country=fr vip=true",
		"uid=8 country=null vip=null",
		"uid=null country=null vip=null",
		"uid=-3 country=de vip=false",
	}, "\n")
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if n := stage.Name(); !strings.Contains(n, "on=uid=id: country,vip") {
		t.Errorf("name %q does not say the keys and columns", n)
	}
}

// TestEnrichRefusedAtBind checks that a table or a column that cannot work
// fails at Bind, with an error that names what is wrong.
func TestEnrichRefusedAtBind(t *testing.T) {
	good := "page,category\n/a,x\n/b,y\n"
	for _, tc := range []struct {
		name, csv string
		types     map[string]arrow.DataType
		on        string
		cols      []string
		missing   bool
		want      string
	}{
		{name: "duplicate key", csv: "page,category\n/a,x\n/b,y\n/a,z\n", on: "page", cols: []string{"category"},
			want: `key column "page" has the key "/a" twice (rows 1 and 3)`},
		{name: "duplicate integer key", csv: "page,category,n\n/a,x,1\n/b,y,1\n", types: map[string]arrow.DataType{"n": arrow.PrimitiveTypes.Int64},
			on: "n", cols: []string{"category"}, want: `key column "n" has the key 1 twice (rows 1 and 2)`},
		{name: "unknown column", csv: good, on: "page", cols: []string{"title"}, want: `column "title" not in schema (have: page, category)`},
		{name: "unknown key in input", csv: good, on: "url", cols: []string{"category"}, want: `input: column "url" not in schema`},
		{name: "column already in input", csv: "page,user_id\n/a,x\n", on: "page", cols: []string{"user_id"}, want: `column "user_id" is already in the input`},
		{name: "key types differ", csv: "page,category\n1,x\n", types: map[string]arrow.DataType{"page": arrow.PrimitiveTypes.Int64}, on: "page", cols: []string{"category"},
			want: "is int64 but the input's"},
		{name: "null key", csv: "n,category\n1,x\n,y\n", types: map[string]arrow.DataType{"n": arrow.PrimitiveTypes.Int64}, on: "n", cols: []string{"category"},
			want: `key column "n" is null at row 2`},
		{name: "declared column not in header", csv: good, types: map[string]arrow.DataType{"title": arrow.BinaryTypes.String}, on: "page", cols: []string{"category"},
			want: `declared column "title" not in the csv header`},
		{name: "bad cell", csv: "page,n\n/a,1\n/b,two\n", types: map[string]arrow.DataType{"n": arrow.PrimitiveTypes.Int64}, on: "page", cols: []string{"n"},
			want: "two"},
		{name: "missing file", missing: true, on: "page", cols: []string{"category"}, want: "no such file"},
		{name: "no columns", csv: good, on: "page", want: "no columns"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "absent.csv")
			if !tc.missing {
				path = writeFile(t, "table.csv", tc.csv)
			}
			in := visitSchema
			if tc.on == "n" {
				in = arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64}}, nil)
			}
			stage := Enrich(CSVTable(path, tc.types), tc.on, tc.cols...)
			_, newOp, err := stage.Bind(in)
			if err == nil {
				t.Fatalf("Bind succeeded (newOp %v), want an error with %q", newOp != nil, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "operators: enrich: ") {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestEnrichNameHashesTheTable checks that the stage's name, and so the
// job's fingerprint, changes with the table's content and not otherwise.
func TestEnrichNameHashesTheTable(t *testing.T) {
	path := writeFile(t, "pages.csv", "page,category\n/a,x\n")
	name := func() string {
		s := Enrich(CSVTable(path, nil), "page", "category")
		if !strings.Contains(s.Name(), "not loaded") {
			t.Errorf("name before Bind %q does not say the table is not loaded", s.Name())
		}
		if _, _, err := s.Bind(visitSchema); err != nil {
			t.Fatal(err)
		}
		return s.Name()
	}
	first := name()
	if !strings.HasPrefix(first, "enrich("+path+" sha256:") || !strings.HasSuffix(first, ", on=page: category)") {
		t.Errorf("name %q", first)
	}
	if again := name(); again != first {
		t.Errorf("same table, names %q and %q", first, again)
	}
	if err := os.WriteFile(path, []byte("page,category\n/a,y\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if changed := name(); changed == first {
		t.Errorf("table changed, name still %q", changed)
	}
}

// TestEnrichEmptyTable: every row is unmatched; the columns keep the
// table's types.
func TestEnrichEmptyTable(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := writeFile(t, "pages.csv", "page,category\n")
	_, op := newOp(t, mem, Enrich(CSVTable(path, nil), "page", "category"), visitSchema)
	k := "/a"
	main, _ := collect(t, op, visitBatch(mem, []*string{&k, nil}, 0))
	defer releaseAll(main)
	if got := strings.Join(rowStrings(main[0].Rec), "|"); got != "user_id=u0 page=/a category=null|user_id=u1 page=null category=null" {
		t.Errorf("got %s", got)
	}
}

// TestEnrichRejectsAnotherSchema: a batch that is not of the bound schema is
// an error, not a panic.
func TestEnrichRejectsAnotherSchema(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := writeFile(t, "pages.csv", "page,category\n/a,x\n")
	_, op := newOp(t, mem, Enrich(CSVTable(path, nil), "user_id", "category").TableKey("page"), visitSchema)
	b := array.NewInt64Builder(mem)
	b.Append(1)
	col := b.NewArray()
	b.Release()
	s := arrow.NewSchema([]arrow.Field{{Name: "user_id", Type: arrow.PrimitiveTypes.Int64}, {Name: "page", Type: arrow.PrimitiveTypes.Int64}}, nil)
	rec := array.NewRecordBatch(s, []arrow.Array{col, col}, 1)
	col.Release()
	err := op.Process(context.Background(), &pipeline.Batch{Rec: rec, Shard: "s"}, func(b *pipeline.Batch) { b.Release() })
	if err == nil || !strings.Contains(err.Error(), "not the type the stage was bound to") {
		t.Errorf("got %v", err)
	}
}

// TestEnrichLargeStringKeys joins a large_utf8 input key against a utf8
// table key, and a utf8 input key against a large_utf8 one.
func TestEnrichLargeStringKeys(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := writeFile(t, "pages.csv", "page,category\n/a,x\n/b,y\n")
	for _, tc := range []struct {
		name       string
		input      arrow.DataType
		tableTypes map[string]arrow.DataType
	}{
		{"large input", arrow.BinaryTypes.LargeString, nil},
		{"large table key", arrow.BinaryTypes.String, map[string]arrow.DataType{"page": arrow.BinaryTypes.LargeString}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := arrow.NewSchema([]arrow.Field{{Name: "page", Type: tc.input, Nullable: true}}, nil)
			_, op := newOp(t, mem, Enrich(CSVTable(path, tc.tableTypes), "page", "category"), in)
			rb := array.NewRecordBuilder(mem, in)
			defer rb.Release()
			for _, p := range []string{"/b", "/c", "", "/a"} {
				if p == "" {
					rb.Field(0).AppendNull()
					continue
				}
				switch b := rb.Field(0).(type) {
				case *array.LargeStringBuilder:
					b.Append(p)
				case *array.StringBuilder:
					b.Append(p)
				}
			}
			main, _ := collect(t, op, &pipeline.Batch{Rec: rb.NewRecordBatch(), Shard: "s"})
			defer releaseAll(main)
			got := strings.Join(rowStrings(main[0].Rec), "|")
			if want := "page=/b category=y|page=/c category=null|page=null category=null|page=/a category=x"; got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

// TestEnrichDropKeepsNullsOfASlice drops rows of a sliced batch whose other
// columns have nulls: the kept rows keep them.
func TestEnrichDropKeepsNullsOfASlice(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := writeFile(t, "pages.csv", "page,category\n/a,x\n/b,y\n")
	_, op := newOp(t, mem, Enrich(CSVTable(path, nil), "page", "category").DropUnmatched(), visitSchema)
	rb := array.NewRecordBuilder(mem, visitSchema)
	defer rb.Release()
	users, pages := rb.Field(0).(*array.StringBuilder), rb.Field(1).(*array.StringBuilder)
	users.AppendValues([]string{"u0", "", "u2", "", "u4"}, []bool{true, false, true, false, true})
	pages.AppendValues([]string{"/a", "/a", "/b", "/zz", "/b"}, nil)
	rec := rb.NewRecordBatch()
	defer rec.Release()
	main, _ := collect(t, op, &pipeline.Batch{Rec: rec.NewSlice(1, 4), Shard: "s"})
	defer releaseAll(main)
	got := strings.Join(rowStrings(main[0].Rec), "|")
	if want := "user_id=null page=/a category=x|user_id=u2 page=/b category=y"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
