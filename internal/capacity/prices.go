package capacity

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

//go:embed prices_us-east-1.json
var defaultPricesJSON []byte

// Prices is a Kinesis Data Streams price table in USD. Region, AsOf and Source
// say where the figures come from; every other field is a price.
type Prices struct {
	Region string `json:"region"`
	AsOf   string `json:"as_of"`
	Source string `json:"source"`

	// Provisioned mode.
	ShardHour                  float64 `json:"shard_hour"`
	PutPayloadUnitsPerMillion  float64 `json:"put_payload_units_per_million"`
	ExtendedRetentionShardHour float64 `json:"extended_retention_shard_hour"` // 24 h to 7 days
	LongTermRetentionGBMonth   float64 `json:"long_term_retention_gb_month"`  // beyond 7 days, both modes
	EFOConsumerShardHour       float64 `json:"efo_consumer_shard_hour"`
	EFODataRetrievalGB         float64 `json:"efo_data_retrieval_gb"`

	// On-demand mode.
	OnDemandStreamHour               float64 `json:"on_demand_stream_hour"`
	OnDemandDataInGB                 float64 `json:"on_demand_data_in_gb"`
	OnDemandDataOutGB                float64 `json:"on_demand_data_out_gb"`
	OnDemandExtendedRetentionGBMonth float64 `json:"on_demand_extended_retention_gb_month"` // 24 h to 7 days
}

// DefaultPrices returns the embedded us-east-1 price table.
func DefaultPrices() Prices {
	p, err := decodePrices(Prices{}, defaultPricesJSON)
	if err != nil {
		panic("capacity: embedded price table: " + err.Error()) // a build defect, caught by the tests
	}
	return p
}

// LoadPrices reads a JSON price table from r over the defaults: keys it has
// replace the default, keys it lacks keep it. Unknown keys and negative prices
// are refused.
func LoadPrices(r io.Reader) (Prices, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return Prices{}, fmt.Errorf("capacity: read prices: %w", err)
	}
	return decodePrices(DefaultPrices(), data)
}

func decodePrices(base Prices, data []byte) (Prices, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	p := base
	if err := dec.Decode(&p); err != nil {
		return Prices{}, fmt.Errorf("capacity: prices: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return Prices{}, errors.New("capacity: prices: more than one JSON value")
	}
	return p, p.Validate()
}

// Validate refuses negative prices.
func (p Prices) Validate() error {
	v := reflect.ValueOf(p)
	t := v.Type()
	for i := range t.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Float64 && f.Float() < 0 {
			return fmt.Errorf("capacity: prices: %s is %v: want >= 0", strings.Split(t.Field(i).Tag.Get("json"), ",")[0], f.Float())
		}
	}
	return nil
}
