package windows

import (
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

func TestKeyedStageErrors(t *testing.T) {
	tests := []struct {
		name      string
		spec      *Spec
		keys      []string
		eventTime string
		want      string
	}{
		{"sum over a string", Tumbling(time.Minute).Aggregate(Sum("revenue", "event_type")), []string{"page"}, "ts",
			`windows: sum("revenue"): column "event_type" is utf8, want a number`},
		{"unknown column", Tumbling(time.Minute).Aggregate(Max("m", "nope")), nil, "ts", `windows: max("m"): no column "nope"`},
		{"min over bool", Tumbling(time.Minute).Aggregate(Min("m", "flag")), nil, "ts", `windows: min("m"): column "flag" is bool, want a number or timestamp`},
		{"avg over timestamp", Tumbling(time.Minute).Aggregate(Avg("a", "ts")), nil, "ts", `column "ts" is timestamp[ms, tz=UTC], want a number`},
		{"distinct over float", Tumbling(time.Minute).Aggregate(CountDistinct("d", "price")), nil, "ts", `windows: count_distinct("d"): column "price" is float64, want a string or integer`},
		{"predicate error", Tumbling(time.Minute).Aggregate(CountIf("c", eqPred{"price", "x"})), nil, "ts", `windows: count_if("c"): expr: column "price" is float64, want utf8`},
		{"nil predicate", Tumbling(time.Minute).Aggregate(CountIf("c", nil)), nil, "ts", `windows: count_if("c"): nil predicate`},
		{"any_if outside sessions", Tumbling(time.Minute).Aggregate(AnyIf("a", eqPred{"event", "x"})), nil, "ts", `windows: any_if("a"): AnyIf is for session windows only`},
		{"unknown key", Tumbling(time.Minute).Aggregate(Count("n")), []string{"nope"}, "ts", `windows: no key column "nope"`},
		{"float key", Tumbling(time.Minute).Aggregate(Count("n")), []string{"price"}, "ts", `windows: key column "price" is float64, want a string, integer or bool`},
		{"event time not a timestamp", Tumbling(time.Minute).Aggregate(Count("n")), nil, "uid", `windows: event-time column "uid" is int64, want a timestamp`},
		{"no event time column", Tumbling(time.Minute).Aggregate(Count("n")), nil, "when", `windows: no event-time column "when"`},
		{"empty event time", Tumbling(time.Minute).Aggregate(Count("n")), nil, "", `windows: no event-time column`},
		{"duplicate agg names", Tumbling(time.Minute).Aggregate(Count("n"), Sum("n", "qty")), nil, "ts", `windows: sum("n"): output name already used by count("n")`},
		{"agg named like key", Tumbling(time.Minute).Aggregate(Count("page")), []string{"page"}, "ts", `windows: count("page"): output name already used by key column "page"`},
		{"agg named window_start", Tumbling(time.Minute).Aggregate(Count("window_start")), nil, "ts", `output name already used by a window bound`},
		{"duplicate key", Tumbling(time.Minute).Aggregate(Count("n")), []string{"page", "page"}, "ts", `windows: key column "page": output name already used`},
		{"empty name", Tumbling(time.Minute).Aggregate(Count("")), nil, "ts", `windows: count(""): empty output name`},
		{"zero agg", Tumbling(time.Minute).Aggregate(Agg{}), nil, "ts", `windows: invalid aggregate (zero Agg)`},
		{"no aggs", Tumbling(time.Minute).Aggregate(), nil, "ts", `windows: no aggregates`},
		{"bad size", Tumbling(0).Aggregate(Count("n")), nil, "ts", `windows: tumbling size 0s`},
		{"nil assigner", Aggregate(nil, Count("n")), nil, "ts", `windows: no window assigner`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := tt.spec.KeyedStage(tt.keys, tt.eventTime)
			if err == nil {
				_, _, err = st.Bind(testSchema)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestStageNameAndSchema(t *testing.T) {
	spec := Tumbling(time.Minute).Aggregate(
		Count("events"),
		CountIf("views", eqPred{"event_type", "view"}),
		SumIf("revenue", "price", eqPred{"event_type", "purchase"}),
		Sum("qty_sum", "qty"),
		Min("first", "ts"),
		Max("big_max", "big"),
		Avg("avg_qty", "qty"),
		CountDistinct("users", "user_id"))
	st, err := spec.KeyedStage([]string{"page", "flag"}, "ts")
	if err != nil {
		t.Fatal(err)
	}
	wantName := `tumbling(1m) on ts by page, flag: count(events), count_if(views: event_type = "view"), ` +
		`sum_if(revenue: price, event_type = "purchase"), sum(qty_sum: qty), min(first: ts), max(big_max: big), ` +
		`avg(avg_qty: qty), count_distinct(users: user_id)`
	if st.Name() != wantName {
		t.Errorf("Name() =\n%s\nwant\n%s", st.Name(), wantName)
	}
	out, _, err := st.Bind(testSchema)
	if err != nil {
		t.Fatal(err)
	}
	want := arrow.NewSchema([]arrow.Field{
		{Name: "window_start", Type: arrow.FixedWidthTypes.Timestamp_ms},
		{Name: "window_end", Type: arrow.FixedWidthTypes.Timestamp_ms},
		{Name: "page", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "flag", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "events", Type: arrow.PrimitiveTypes.Int64},
		{Name: "views", Type: arrow.PrimitiveTypes.Int64},
		{Name: "revenue", Type: arrow.PrimitiveTypes.Float64},
		{Name: "qty_sum", Type: arrow.PrimitiveTypes.Int64},
		{Name: "first", Type: arrow.FixedWidthTypes.Timestamp_ms, Nullable: true},
		{Name: "big_max", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
		{Name: "avg_qty", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "users", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	if !out.Equal(want) {
		t.Errorf("schema\n%s\nwant\n%s", out, want)
	}

	// Different key, event time or window give different names.
	names := map[string]bool{st.Name(): true}
	for _, s := range []struct {
		spec *Spec
		keys []string
	}{
		{spec, []string{"page"}},
		{Tumbling(time.Minute).WithOffset(time.Second).Aggregate(Count("events")), nil},
		{Sliding(time.Minute, time.Second).Aggregate(Count("events")), nil},
		{Tumbling(time.Minute).Aggregate(Count("events")), nil},
	} {
		st, err := s.spec.KeyedStage(s.keys, "ts")
		if err != nil {
			t.Fatal(err)
		}
		if names[st.Name()] {
			t.Errorf("name %q repeats", st.Name())
		}
		names[st.Name()] = true
	}
}
