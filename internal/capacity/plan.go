package capacity

import (
	"errors"
	"fmt"
	"math"
)

// Kinesis limits per shard (see ../../shared/KINESIS.md).
const (
	ShardWriteMiBs      = 1.0  // MiB/s written per shard
	ShardWriteRecords   = 1000 // records/s written per shard
	ShardReadMiBs       = 2.0  // MiB/s read per shard, shared by every polling consumer
	ShardGetRecordsRate = 5    // GetRecords calls/s per shard
	PutPayloadUnitKiB   = 25   // a PUT payload unit covers up to 25 KiB of one record
	MaxEFOConsumers     = 20   // registered fan-out consumers per stream
	MinRetentionHours   = 24
	MaxRetentionHours   = 8760
	extendedRetentionTo = 168 // hours: beyond it, long-term retention per GB-month
)

// Input is the workload to plan for. Give two of WriteMiBs, RecordsS and
// RecordKiB (or all three, consistent to 1%); Normalize derives the third.
type Input struct {
	WriteMiBs      float64 `json:"write_mb_s"`      // MiB/s written, all shards together
	RecordsS       float64 `json:"records_s"`       // records/s written
	RecordKiB      float64 `json:"record_kb"`       // average record size, KiB
	Consumers      int     `json:"consumers"`       // applications reading every record
	EFO            bool    `json:"efo"`             // the consumers use enhanced fan-out
	RetentionHours float64 `json:"retention_hours"` // 24 to 8,760
	Headroom       float64 `json:"headroom"`        // share of capacity kept spare, [0, 1)
	HoursPerMonth  float64 `json:"hours_per_month"` // 720: 24 x 30
	HotKeyShare    float64 `json:"hot_key_share"`   // share of the writes on the busiest partition key; 0: unknown
}

// DefaultInput has the defaults of every field but the write rates.
func DefaultInput() Input {
	return Input{Consumers: 1, RetentionHours: MinRetentionHours, Headroom: 0.2, HoursPerMonth: 720}
}

// Normalize derives the missing one of WriteMiBs, RecordsS and RecordKiB and
// validates the rest.
func (in *Input) Normalize() error {
	var errs []error
	given := 0
	for _, v := range []float64{in.WriteMiBs, in.RecordsS, in.RecordKiB} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			errs = append(errs, errors.New("write MB/s, records/s and record KB want finite numbers >= 0"))
			break
		}
		if v > 0 {
			given++
		}
	}
	switch {
	case len(errs) > 0:
	case given < 2:
		errs = append(errs, errors.New("give two of write MB/s, records/s and record KB"))
	case in.WriteMiBs == 0:
		in.WriteMiBs = in.RecordsS * in.RecordKiB / 1024
	case in.RecordsS == 0:
		in.RecordsS = in.WriteMiBs * 1024 / in.RecordKiB
	case in.RecordKiB == 0:
		in.RecordKiB = in.WriteMiBs * 1024 / in.RecordsS
	default:
		if w := in.RecordsS * in.RecordKiB / 1024; math.Abs(w-in.WriteMiBs) > 0.01*in.WriteMiBs {
			errs = append(errs, fmt.Errorf("write %v MB/s disagrees with %v records/s of %v KB (%.4g MB/s): give two of them", in.WriteMiBs, in.RecordsS, in.RecordKiB, w))
		}
	}
	if in.Consumers < 0 {
		errs = append(errs, fmt.Errorf("consumers %d: want >= 0", in.Consumers))
	}
	if in.RetentionHours < MinRetentionHours || in.RetentionHours > MaxRetentionHours || in.RetentionHours != math.Trunc(in.RetentionHours) {
		errs = append(errs, fmt.Errorf("retention %v hours: want a whole number from %d to %d", in.RetentionHours, MinRetentionHours, MaxRetentionHours))
	}
	if !(in.Headroom >= 0 && in.Headroom < 1) {
		errs = append(errs, fmt.Errorf("headroom %v: want 0 <= headroom < 1", in.Headroom))
	}
	if !(in.HoursPerMonth > 0 && in.HoursPerMonth <= 744) {
		errs = append(errs, fmt.Errorf("hours per month %v: want > 0 and <= 744", in.HoursPerMonth))
	}
	if !(in.HotKeyShare >= 0 && in.HotKeyShare <= 1) {
		errs = append(errs, fmt.Errorf("hot key share %v: want 0 to 1", in.HotKeyShare))
	}
	return oneLine(errs)
}

// oneLine joins errs on one line, for a command line's one-line error.
func oneLine(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	msg := errs[0].Error()
	for _, e := range errs[1:] {
		msg += "; " + e.Error()
	}
	return errors.New("capacity: " + msg)
}

// Limits are the shards each Kinesis limit requires.
type Limits struct {
	WriteMB      int `json:"write_mb"`      // 1 MiB/s in per shard
	WriteRecords int `json:"write_records"` // 1,000 records/s in per shard
	Read         int `json:"read"`          // 2 MiB/s out per shard shared by polling consumers; 0 with EFO
}

// Cost is a provisioned-mode monthly bill in USD.
type Cost struct {
	ShardHours            float64 `json:"shard_hours"`
	PutPayloadUnits       float64 `json:"put_payload_units"`
	ExtendedRetention     float64 `json:"extended_retention"`
	LongTermRetention     float64 `json:"long_term_retention"`
	EFOConsumerShardHours float64 `json:"efo_consumer_shard_hours"`
	EFODataRetrieval      float64 `json:"efo_data_retrieval"`
	Total                 float64 `json:"total"`
}

// OnDemandCost is the same workload's monthly bill in on-demand mode, USD.
type OnDemandCost struct {
	StreamHours       float64 `json:"stream_hours"`
	DataIn            float64 `json:"data_in"`
	DataOut           float64 `json:"data_out"`
	ExtendedRetention float64 `json:"extended_retention"`
	LongTermRetention float64 `json:"long_term_retention"`
	Total             float64 `json:"total"`
}

// Plan is what Compute returns; its JSON form is `shardflow plan --format json`.
type Plan struct {
	Input             Input        `json:"input"`
	MinShards         int          `json:"min_shards"`
	RecommendedShards int          `json:"recommended_shards"`
	Limits            Limits       `json:"limits"`
	Prices            Prices       `json:"prices"`
	MonthlyCost       Cost         `json:"monthly_cost_usd"`
	OnDemand          OnDemandCost `json:"on_demand_monthly_cost_usd"`
	Warnings          []string     `json:"warnings"`
}

// ceil rounds up, forgiving the float noise of a quotient that is a whole
// number on paper (0.8/0.8, 3 x 0.1 / 0.3).
func ceil(x float64) int { return int(math.Ceil(x - 1e-9)) }

// PutPayloadUnits is the units one record of kib KiB costs: one per started 25 KiB.
func PutPayloadUnits(kib float64) int { return max(ceil(kib/PutPayloadUnitKiB), 1) }

// Compute plans in with prices p. in is normalized first.
func Compute(in Input, p Prices) (Plan, error) {
	if err := in.Normalize(); err != nil {
		return Plan{}, err
	}
	if err := p.Validate(); err != nil {
		return Plan{}, err
	}
	pl := Plan{Input: in, Prices: p, Warnings: []string{}}
	polling := in.Consumers
	if in.EFO {
		polling = 0
	}
	readLoad := float64(polling) * in.WriteMiBs / ShardReadMiBs
	pl.Limits = Limits{
		WriteMB:      ceil(in.WriteMiBs / ShardWriteMiBs),
		WriteRecords: ceil(in.RecordsS / ShardWriteRecords),
		Read:         ceil(readLoad),
	}
	pl.MinShards = max(pl.Limits.WriteMB, pl.Limits.WriteRecords, pl.Limits.Read, 1)
	load := max(in.WriteMiBs/ShardWriteMiBs, in.RecordsS/ShardWriteRecords, readLoad)
	pl.RecommendedShards = max(ceil(load/(1-in.Headroom)), pl.MinShards)
	pl.MonthlyCost = provisionedCost(in, p, pl.RecommendedShards)
	pl.OnDemand = onDemandCost(in, p)
	pl.Warnings = warnings(in, p, pl)
	return pl, nil
}

// monthSeconds is the planning month in seconds.
func (in Input) monthSeconds() float64 { return 3600 * in.HoursPerMonth }

func provisionedCost(in Input, p Prices, shards int) Cost {
	n, h := float64(shards), in.HoursPerMonth
	c := Cost{
		ShardHours:      n * h * p.ShardHour,
		PutPayloadUnits: in.RecordsS * float64(PutPayloadUnits(in.RecordKiB)) * in.monthSeconds() / 1e6 * p.PutPayloadUnitsPerMillion,
	}
	if in.RetentionHours > MinRetentionHours {
		c.ExtendedRetention = n * h * p.ExtendedRetentionShardHour
	}
	if in.RetentionHours > extendedRetentionTo {
		c.LongTermRetention = in.WriteMiBs / 1024 * 3600 * (in.RetentionHours - extendedRetentionTo) * p.LongTermRetentionGBMonth
	}
	if in.EFO {
		e := float64(in.Consumers)
		c.EFOConsumerShardHours = e * n * h * p.EFOConsumerShardHour
		c.EFODataRetrieval = e * in.WriteMiBs / 1024 * in.monthSeconds() * p.EFODataRetrievalGB
	}
	c.Total = c.ShardHours + c.PutPayloadUnits + c.ExtendedRetention + c.LongTermRetention + c.EFOConsumerShardHours + c.EFODataRetrieval
	return c
}

func onDemandCost(in Input, p Prices) OnDemandCost {
	inGiBs := in.RecordsS * float64(max(ceil(in.RecordKiB), 1)) / (1024 * 1024) // each record rounded up to 1 KiB
	monthGiB := inGiBs * in.monthSeconds()
	c := OnDemandCost{
		StreamHours: in.HoursPerMonth * p.OnDemandStreamHour,
		DataIn:      monthGiB * p.OnDemandDataInGB,
		DataOut:     float64(in.Consumers) * monthGiB * p.OnDemandDataOutGB,
	}
	if in.RetentionHours > MinRetentionHours {
		c.ExtendedRetention = inGiBs * 3600 * (min(in.RetentionHours, extendedRetentionTo) - MinRetentionHours) * p.OnDemandExtendedRetentionGBMonth
	}
	if in.RetentionHours > extendedRetentionTo {
		c.LongTermRetention = inGiBs * 3600 * (in.RetentionHours - extendedRetentionTo) * p.LongTermRetentionGBMonth
	}
	c.Total = c.StreamHours + c.DataIn + c.DataOut + c.ExtendedRetention + c.LongTermRetention
	return c
}

func warnings(in Input, p Prices, pl Plan) []string {
	w := []string{}
	writeShards := max(pl.Limits.WriteMB, pl.Limits.WriteRecords, 1)
	if !in.EFO && in.Consumers > 0 {
		efo := in
		efo.EFO = true
		alt, _ := Compute(efo, p) // in is valid: Compute above normalized it
		diff := fmt.Sprintf("%s/month", signedUSD(alt.MonthlyCost.Total-pl.MonthlyCost.Total))
		if in.Consumers > ShardGetRecordsRate {
			w = append(w, fmt.Sprintf("%d polling consumers need at least %d GetRecords calls/s on every shard; a shard allows %d: no shard count fixes it; use enhanced fan-out (--efo, %d shards): %s",
				in.Consumers, in.Consumers, ShardGetRecordsRate, alt.RecommendedShards, diff))
		}
		if pl.Limits.Read > writeShards {
			w = append(w, fmt.Sprintf("%d polling consumers share 2 MB/s per shard: reads need %d shards where writes need %d; with enhanced fan-out (--efo) %d shards: %s",
				in.Consumers, pl.Limits.Read, writeShards, alt.RecommendedShards, diff))
		}
	}
	if in.EFO && in.Consumers > MaxEFOConsumers {
		w = append(w, fmt.Sprintf("%d enhanced fan-out consumers: a stream registers at most %d", in.Consumers, MaxEFOConsumers))
	}
	if s := in.HotKeyShare; s > 0 {
		mb, rec := s*in.WriteMiBs, s*in.RecordsS
		n := float64(pl.RecommendedShards)
		hotMB, hotRec := mb+(in.WriteMiBs-mb)/n, rec+(in.RecordsS-rec)/n
		switch {
		case mb > ShardWriteMiBs || rec > ShardWriteRecords,
			(hotMB > ShardWriteMiBs || hotRec > ShardWriteRecords) && (mb >= ShardWriteMiBs || rec >= ShardWriteRecords):
			w = append(w, fmt.Sprintf("a key with %g of the writes needs %.3g MB/s and %.4g records/s on one shard (limit 1 MB/s, 1000 records/s): no shard count fixes it; spread the key", s, mb, rec))
		case hotMB > ShardWriteMiBs || hotRec > ShardWriteRecords:
			// The key's shard also carries its even share of the rest:
			// key + (total - key) / shards <= limit  <=>  shards >= (total - key) / (limit - key).
			need := max(ceil((in.WriteMiBs-mb)/(ShardWriteMiBs-mb)), ceil((in.RecordsS-rec)/(ShardWriteRecords-rec)))
			w = append(w, fmt.Sprintf("a key with %g of the writes makes a hot shard: at %d shards the shard holding it takes %.3g MB/s and %.4g records/s (limit 1 MB/s, 1000 records/s); %d shards keep it under the limit, or spread the key", s, pl.RecommendedShards, hotMB, hotRec, need))
		}
	}
	if in.RecordKiB > 1024 {
		w = append(w, fmt.Sprintf("records of %.4g KB exceed the 1 MiB default record limit (streams can opt in to 10 MiB)", in.RecordKiB))
	}
	return w
}

func signedUSD(x float64) string {
	if x < 0 {
		return fmt.Sprintf("-$%.2f", -x)
	}
	return fmt.Sprintf("+$%.2f", x)
}
