package windows_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/shardflow/shardflow/pipeline"
	"github.com/shardflow/shardflow/windows"
)

// product multiplies the values of a float64 column: a user-defined
// aggregation. Its state is one number; merging two partial products
// multiplies them.
type product struct{}

func (product) String() string { return "product" }

func (product) Type(in arrow.DataType) (arrow.DataType, error) {
	if in.ID() != arrow.FLOAT64 {
		return nil, fmt.Errorf("%s, want float64", in)
	}
	return arrow.PrimitiveTypes.Float64, nil
}

func (product) New() windows.AggState { return &productState{p: 1} }

type productState struct{ p float64 }

// Add reads the column's values directly; rows are the group's rows of the
// batch, nulls already skipped.
func (s *productState) Add(arr arrow.Array, rows []int32) {
	vals := arr.(*array.Float64).Float64Values()
	for _, r := range rows {
		s.p *= vals[r]
	}
}

func (s *productState) Merge(other windows.AggState) { s.p *= other.(*productState).p }

func (s *productState) Result(b array.Builder) error {
	b.(*array.Float64Builder).Append(s.p)
	return nil
}

func (s *productState) MarshalBinary() ([]byte, error) {
	return binary.LittleEndian.AppendUint64(nil, math.Float64bits(s.p)), nil
}

func (s *productState) UnmarshalBinary(data []byte) error {
	if len(data) != 8 {
		return errors.New("product: want 8 bytes")
	}
	s.p = math.Float64frombits(binary.LittleEndian.Uint64(data))
	return nil
}

// A user-defined aggregation (windows.Custom) next to the sketches built on
// the same interface: the growth factor of a price over a window, computed
// on two shards and merged when the window fires, with an approximate count
// of distinct users, a median and the two most frequent users.
func ExampleCustom() {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "user_id", Type: arrow.BinaryTypes.String},
		{Name: "factor", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_ms},
	}, nil)
	spec := windows.Tumbling(time.Minute).Aggregate(
		windows.Custom("growth", "factor", product{}),
		windows.ApproxCountDistinct("users", "user_id"),
		windows.Quantile("median", "factor", 0.5),
		windows.TopK("top_users", "user_id", 2))
	stage, err := spec.KeyedStage(nil, "ts")
	if err != nil {
		panic(err)
	}
	_, newOp, err := stage.Bind(schema)
	if err != nil {
		panic(err)
	}
	op, err := newOp(pipeline.OperatorEnv{Mem: memory.DefaultAllocator})
	if err != nil {
		panic(err)
	}
	win := op.(pipeline.KeyedOperator)
	fmt.Println(stage.Name())

	ctx := context.Background()
	send := func(shard string, users []string, factors []float64) {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		defer b.Release()
		for i, u := range users {
			b.Field(0).(*array.StringBuilder).Append(u)
			if factors[i] == 0 {
				b.Field(1).AppendNull()
			} else {
				b.Field(1).(*array.Float64Builder).Append(factors[i])
			}
			b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(1000 * int64(i)))
		}
		if err := win.Process(ctx, &pipeline.Batch{Rec: b.NewRecordBatch(), Shard: shard}, nil); err != nil {
			panic(err)
		}
	}
	send("shard-0", []string{"u1", "u2", "u1"}, []float64{1.5, 2, 0})
	send("shard-1", []string{"u3", "u1"}, []float64{0.5, 4})
	err = win.OnWatermark(ctx, 60_000, func(b *pipeline.Batch) {
		defer b.Release()
		for c := 2; c < int(b.Rec.NumCols()); c++ {
			fmt.Printf("%s: %s\n", b.Rec.Schema().Field(c).Name, b.Rec.Column(c).ValueStr(0))
		}
	})
	if err != nil {
		panic(err)
	}
	// The median of 1.5, 2, 0.5 and 4 is the value of rank 0.5·(4-1), 1.5,
	// which the sketch gives within 1%.

	// Output:
	// tumbling(1m) on ts: product(growth: factor), approx_count_distinct(users: user_id), approx_quantile[0.5](median: factor), top_k[2](top_users: user_id)
	// growth: 6
	// users: 3
	// median: 1.506763035863038
	// top_users: [{"value":"u1","count":3,"error":0},{"value":"u2","count":1,"error":0}]
}
