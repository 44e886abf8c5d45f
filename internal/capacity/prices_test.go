package capacity

import (
	"reflect"
	"strings"
	"testing"
)

func TestDefaultPricesAreDatedAndComplete(t *testing.T) {
	p := DefaultPrices()
	if p.Region != "us-east-1" || p.AsOf == "" || p.Source == "" {
		t.Errorf("price table lacks region, date or source: %+v", p)
	}
	v := reflect.ValueOf(p)
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Float64 && f.Float() <= 0 {
			t.Errorf("default %s is %v", v.Type().Field(i).Name, f.Float())
		}
	}
	if p.ShardHour != 0.015 || p.PutPayloadUnitsPerMillion != 0.014 {
		t.Errorf("shard-hour %v, PUT units %v", p.ShardHour, p.PutPayloadUnitsPerMillion)
	}
}

func TestLoadPrices(t *testing.T) {
	p, err := LoadPrices(strings.NewReader(`{"region": "eu-west-1", "shard_hour": 0.017}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.ShardHour != 0.017 || p.Region != "eu-west-1" || p.PutPayloadUnitsPerMillion != DefaultPrices().PutPayloadUnitsPerMillion {
		t.Errorf("override: %+v", p)
	}
	for in, want := range map[string]string{
		`{"shard_hours": 0.1}`:                   `capacity: prices: unknown field "shard_hours"`,
		`{"efo_data_retrieval_gb": -0.013}`:      "capacity: prices: efo_data_retrieval_gb is -0.013: want >= 0",
		`{"shard_hour": "cheap"}`:                "capacity: prices: cannot unmarshal string",
		`{"shard_hour": 0.01} {"shard_hour": 1}`: "more than one JSON value",
		`not json`:                               "capacity: prices: invalid character",
	} {
		_, err := LoadPrices(strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err %v, want one line with %q", in, err, want)
		}
	}
}
