package arrowpool_test

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/shardflow/shardflow/internal/arrowpool"
)

// A job passes one Pool to its source and to pipeline.WithAllocator; every
// batch released returns its buffers for the next one to reuse.
func ExampleNew() {
	pool, err := arrowpool.New(arrowpool.Config{})
	if err != nil {
		panic(err)
	}
	for batch := range 3 {
		b := array.NewInt64Builder(pool)
		for i := range 1000 {
			b.Append(int64(batch*1000 + i))
		}
		arr := b.NewInt64Array()
		b.Release()
		fmt.Println(arr.Len(), arr.Value(999))
		arr.Release()
	}
	st := pool.Stats()
	fmt.Println("reused:", st.Hits > 0)
	// Output:
	// 1000 999
	// 1000 1999
	// 1000 2999
	// reused: true
}
