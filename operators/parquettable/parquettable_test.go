package parquettable_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/shardflow/shardflow/operators"
	"github.com/shardflow/shardflow/operators/parquettable"
	"github.com/shardflow/shardflow/pipeline"
)

var userSchema = arrow.NewSchema([]arrow.Field{
	{Name: "user_id", Type: arrow.BinaryTypes.String},
	{Name: "age", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "country", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// writeUsers writes n users u0..u{n-1} with pqarrow, in row groups of 7
// rows; user i is 20+i%50 years old (null when i%9 == 0) from country
// "c{i%5}".
func writeUsers(t *testing.T, n int) string {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, userSchema)
	defer b.Release()
	for i := range n {
		b.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("u%d", i))
		if i%9 == 0 {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.Int64Builder).Append(int64(20 + i%50))
		}
		b.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("c%d", i%5))
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	tbl := array.NewTableFromRecords(userSchema, []arrow.RecordBatch{rec})
	defer tbl.Release()
	path := filepath.Join(t.TempDir(), "users.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	props := parquet.NewWriterProperties(parquet.WithAllocator(memory.DefaultAllocator))
	if err := pqarrow.WriteTable(tbl, f, 7, props, pqarrow.DefaultWriterProps()); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadReleasesWhatItAllocates(t *testing.T) {
	path := writeUsers(t, 100)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec, sum, err := parquettable.File(path).Load(mem)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if rec.NumRows() != 100 || rec.NumCols() != 3 || sum == [32]byte{} {
		t.Fatalf("%d rows, %d columns, sum %x", rec.NumRows(), rec.NumCols(), sum)
	}
	if got := rec.Column(0).(*array.String).Value(99); got != "u99" {
		t.Errorf("last user %q", got)
	}
}

// TestEnrichFromParquet joins events to a Parquet user table of several
// row groups and checks each row against the formula the table was written
// with.
func TestEnrichFromParquet(t *testing.T) {
	const users = 300
	path := writeUsers(t, users)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	in := arrow.NewSchema([]arrow.Field{{Name: "user_id", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	stage := operators.Enrich(parquettable.File(path), "user_id", "country", "age")
	out, newOp, err := stage.Bind(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stage.Name(), "enrich("+path+" sha256:") {
		t.Errorf("name %q", stage.Name())
	}
	if got := out.String(); !strings.Contains(got, "country: type=utf8, nullable") || !strings.Contains(got, "age: type=int64, nullable") {
		t.Errorf("schema %s", got)
	}
	op, err := newOp(pipeline.OperatorEnv{Mem: mem, Shard: "s"})
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewStringBuilder(mem)
	var ids []int
	for i := range 2000 {
		id := (i * 37) % (users + 60) // one in six is not a user
		if i%11 == 0 {
			b.AppendNull()
			id = -1
		} else {
			b.Append(fmt.Sprintf("u%d", id))
		}
		ids = append(ids, id)
	}
	col := b.NewArray()
	b.Release()
	rec := array.NewRecordBatch(in, []arrow.Array{col}, int64(col.Len()))
	col.Release()
	var got arrow.RecordBatch
	err = op.Process(context.Background(), &pipeline.Batch{Rec: rec, Shard: "s"}, func(b *pipeline.Batch) { got = b.Rec })
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	country, age := got.Column(1).(*array.String), got.Column(2).(*array.Int64)
	misses := 0
	for i, id := range ids {
		if id < 0 || id >= users {
			misses++
			if country.IsValid(i) || age.IsValid(i) {
				t.Fatalf("row %d (user %d): matched %q %v", i, id, country.Value(i), age.Value(i))
			}
			continue
		}
		if country.Value(i) != fmt.Sprintf("c%d", id%5) {
			t.Fatalf("row %d (user %d): country %q", i, id, country.Value(i))
		}
		if id%9 == 0 {
			if age.IsValid(i) {
				t.Fatalf("row %d (user %d): age %d, want null", i, id, age.Value(i))
			}
		} else if !age.IsValid(i) || age.Value(i) != int64(20+id%50) {
			t.Fatalf("row %d (user %d): age %v", i, id, age.ValueStr(i))
		}
	}
	if misses == 0 || misses == len(ids) {
		t.Fatalf("%d misses of %d", misses, len(ids))
	}
}

func TestLoadRefusesWhatIsNotParquet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.parquet")
	if err := os.WriteFile(path, []byte("user_id,age\nu1,3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	in := arrow.NewSchema([]arrow.Field{{Name: "user_id", Type: arrow.BinaryTypes.String}}, nil)
	for _, p := range []string{path, path + ".missing"} {
		if _, _, err := operators.Enrich(parquettable.File(p), "user_id", "age").Bind(in); err == nil {
			t.Errorf("%s: Bind succeeded", p)
		} else if !strings.Contains(err.Error(), "operators: enrich: table "+p) {
			t.Errorf("%s: error %q does not name the table", p, err)
		}
	}
}
