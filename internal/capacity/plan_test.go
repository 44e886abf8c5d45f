package capacity

import (
	"math"
	"strings"
	"testing"
)

// Every case below is computed by hand in its comment, with the default
// us-east-1 prices: shard-hour 0.015, PUT units 0.014 per million, extended
// retention 0.02 per shard-hour, long-term retention 0.023 per GB-month, EFO
// 0.015 per consumer-shard-hour and 0.013 per GB, on-demand 0.04 per
// stream-hour, 0.08 per GB in, 0.04 per GB out. A month is 720 h = 2,592,000 s.

func plan(t *testing.T, mod func(*Input)) Plan {
	t.Helper()
	in := DefaultInput()
	mod(&in)
	pl, err := Compute(in, DefaultPrices())
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %.10g, want %.10g", what, got, want)
	}
}

func shards(t *testing.T, pl Plan, l Limits, minimum, recommended int) {
	t.Helper()
	if pl.Limits != l || pl.MinShards != minimum || pl.RecommendedShards != recommended {
		t.Errorf("limits %+v min %d recommended %d, want %+v min %d recommended %d", pl.Limits, pl.MinShards, pl.RecommendedShards, l, minimum, recommended)
	}
}

func hasWarning(t *testing.T, pl Plan, want string) {
	t.Helper()
	for _, w := range pl.Warnings {
		if strings.Contains(w, want) {
			return
		}
	}
	t.Errorf("no warning contains %q: %q", want, pl.Warnings)
}

func TestWriteBound(t *testing.T) {
	// 512 records/s of 8 KiB = 4 MiB/s, one polling consumer.
	// write_mb = ceil(4/1) = 4; write_records = ceil(512/1000) = 1; read = ceil(1 x 4 / 2) = 2.
	// min = 4; recommended = ceil(4 / (1 - 0.2)) = ceil(5) = 5.
	// shard_hours = 5 x 720 x 0.015 = 54.
	// PUT: 8 KiB is 1 unit; 512 x 2,592,000 = 1,327,104,000 units = 1,327.104 M x 0.014 = 18.579456.
	// total = 72.579456.
	pl := plan(t, func(in *Input) { in.RecordsS, in.RecordKiB = 512, 8 })
	near(t, "write MB/s", pl.Input.WriteMiBs, 4)
	shards(t, pl, Limits{WriteMB: 4, WriteRecords: 1, Read: 2}, 4, 5)
	near(t, "shard_hours", pl.MonthlyCost.ShardHours, 54)
	near(t, "put_payload_units", pl.MonthlyCost.PutPayloadUnits, 18.579456)
	near(t, "extended_retention", pl.MonthlyCost.ExtendedRetention, 0)
	near(t, "total", pl.MonthlyCost.Total, 72.579456)
	if len(pl.Warnings) != 0 {
		t.Errorf("warnings: %q", pl.Warnings)
	}
}

func TestRecordBound(t *testing.T) {
	// 4,500 records/s of 0.5 KiB = 2.197265625 MiB/s, one polling consumer.
	// write_mb = ceil(2.197...) = 3; write_records = ceil(4.5) = 5; read = ceil(1.0986...) = 2.
	// min = 5; recommended = ceil(4.5 / 0.8) = ceil(5.625) = 6.
	// shard_hours = 6 x 720 x 0.015 = 64.8.
	// PUT: 4,500 x 1 x 2,592,000 / 1e6 = 11,664 M x 0.014 = 163.296. total = 228.096.
	pl := plan(t, func(in *Input) { in.RecordsS, in.RecordKiB = 4500, 0.5 })
	near(t, "write MB/s", pl.Input.WriteMiBs, 2.197265625)
	shards(t, pl, Limits{WriteMB: 3, WriteRecords: 5, Read: 2}, 5, 6)
	near(t, "shard_hours", pl.MonthlyCost.ShardHours, 64.8)
	near(t, "put_payload_units", pl.MonthlyCost.PutPayloadUnits, 163.296)
	near(t, "total", pl.MonthlyCost.Total, 228.096)
}

func TestReadBoundPollingConsumers(t *testing.T) {
	// 2 MiB/s, 1,000 records/s (2.048 KiB each), 4 polling consumers.
	// write_mb = 2; write_records = 1; read = ceil(4 x 2 / 2) = 4: read wins.
	// min = 4; recommended = ceil(4 / 0.8) = 5.
	// shard_hours = 5 x 720 x 0.015 = 54; PUT: 1,000 x 1 x 2.592 M = 2,592 M x 0.014 = 36.288.
	// total = 90.288.
	// With fan-out instead (TestFanOut): 461.538, so +371.25 a month.
	pl := plan(t, func(in *Input) { in.WriteMiBs, in.RecordsS, in.Consumers = 2, 1000, 4 })
	near(t, "record KB", pl.Input.RecordKiB, 2.048)
	shards(t, pl, Limits{WriteMB: 2, WriteRecords: 1, Read: 4}, 4, 5)
	near(t, "shard_hours", pl.MonthlyCost.ShardHours, 54)
	near(t, "put_payload_units", pl.MonthlyCost.PutPayloadUnits, 36.288)
	near(t, "total", pl.MonthlyCost.Total, 90.288)
	hasWarning(t, pl, "reads need 4 shards where writes need 2; with enhanced fan-out (--efo) 3 shards: +$371.25/month")
	for _, w := range pl.Warnings {
		if strings.Contains(w, "GetRecords") {
			t.Errorf("4 consumers fit the 5 calls/s budget: %q", w)
		}
	}

	// Six consumers: read = ceil(6 x 2 / 2) = 6 and 6 calls/s > 5 on every shard.
	// Polling: recommended ceil(6/0.8) = 8: 8 x 720 x 0.015 = 86.4 + 36.288 = 122.688.
	// Fan-out: 3 shards: 32.4 + 36.288 + 6 x 3 x 720 x 0.015 (194.4) + 6 x 5,062.5 GB x 0.013 (394.875) = 657.963.
	// Difference: +535.275, printed to the cent as +$535.27 (the float sum lands just under the half cent).
	pl = plan(t, func(in *Input) { in.WriteMiBs, in.RecordsS, in.Consumers = 2, 1000, 6 })
	shards(t, pl, Limits{WriteMB: 2, WriteRecords: 1, Read: 6}, 6, 8)
	near(t, "total, 6 consumers", pl.MonthlyCost.Total, 122.688)
	hasWarning(t, pl, "6 polling consumers need at least 6 GetRecords calls/s on every shard; a shard allows 5")
	hasWarning(t, pl, "(--efo, 3 shards): +$535.27/month")
}

func TestFanOut(t *testing.T) {
	// 2 MiB/s, 1,000 records/s, 4 fan-out consumers: no read bound.
	// write_mb = 2; write_records = 1; read = 0. min = 2; recommended = ceil(2 / 0.8) = ceil(2.5) = 3.
	// shard_hours = 3 x 720 x 0.015 = 32.4; PUT = 36.288 (as above).
	// efo_consumer_shard_hours = 4 x 3 x 720 x 0.015 = 129.6.
	// efo_data_retrieval: 2 MiB/s x 2,592,000 s / 1024 = 5,062.5 GiB per consumer; 4 x 5,062.5 x 0.013 = 263.25.
	// total = 32.4 + 36.288 + 129.6 + 263.25 = 461.538.
	pl := plan(t, func(in *Input) { in.WriteMiBs, in.RecordsS, in.Consumers, in.EFO = 2, 1000, 4, true })
	shards(t, pl, Limits{WriteMB: 2, WriteRecords: 1, Read: 0}, 2, 3)
	c := pl.MonthlyCost
	near(t, "shard_hours", c.ShardHours, 32.4)
	near(t, "efo_consumer_shard_hours", c.EFOConsumerShardHours, 129.6)
	near(t, "efo_data_retrieval", c.EFODataRetrieval, 263.25)
	near(t, "total", c.Total, 461.538)
	if len(pl.Warnings) != 0 {
		t.Errorf("warnings: %q", pl.Warnings)
	}
}

func TestLargeRecords(t *testing.T) {
	// 100 records/s of 30 KiB = 2.9296875 MiB/s; a 30 KiB record is 2 PUT units.
	// write_mb = 3; write_records = 1; read = ceil(1.46484375) = 2. min = 3;
	// recommended = ceil(2.9296875 / 0.8) = ceil(3.662109375) = 4.
	// shard_hours = 4 x 720 x 0.015 = 43.2.
	// PUT: 100 x 2 x 2,592,000 = 518.4 M units x 0.014 = 7.2576. total = 50.4576.
	pl := plan(t, func(in *Input) { in.RecordsS, in.RecordKiB = 100, 30 })
	shards(t, pl, Limits{WriteMB: 3, WriteRecords: 1, Read: 2}, 3, 4)
	near(t, "shard_hours", pl.MonthlyCost.ShardHours, 43.2)
	near(t, "put_payload_units", pl.MonthlyCost.PutPayloadUnits, 7.2576)
	near(t, "total", pl.MonthlyCost.Total, 50.4576)

	for kib, units := range map[float64]int{0.1: 1, 1: 1, 25: 1, 25.001: 2, 30: 2, 50: 2, 50.5: 3, 1024: 41} {
		if got := PutPayloadUnits(kib); got != units {
			t.Errorf("PutPayloadUnits(%v) = %d, want %d", kib, got, units)
		}
	}
}

func TestExtendedRetention(t *testing.T) {
	// The write-bound workload (4 MiB/s, 5 shards; shard_hours 54, PUT 18.579456).
	// 168 h: extended = 5 x 720 x 0.02 = 72, no long-term; total = 144.579456.
	pl := plan(t, func(in *Input) { in.RecordsS, in.RecordKiB, in.RetentionHours = 512, 8, 168 })
	near(t, "extended_retention 168h", pl.MonthlyCost.ExtendedRetention, 72)
	near(t, "long_term_retention 168h", pl.MonthlyCost.LongTermRetention, 0)
	near(t, "total 168h", pl.MonthlyCost.Total, 144.579456)

	// 720 h (30 days): extended 72, and 552 h beyond 7 days are held at any time:
	// 4 MiB/s x 3,600 x 552 / 1024 = 7,762.5 GiB x 0.023 = 178.5375.
	// total = 54 + 18.579456 + 72 + 178.5375 = 323.116956.
	pl = plan(t, func(in *Input) { in.RecordsS, in.RecordKiB, in.RetentionHours = 512, 8, 720 })
	near(t, "extended_retention 720h", pl.MonthlyCost.ExtendedRetention, 72)
	near(t, "long_term_retention 720h", pl.MonthlyCost.LongTermRetention, 178.5375)
	near(t, "total 720h", pl.MonthlyCost.Total, 323.116956)

	// On-demand, 720 h, 8 KiB records (already whole KiB): 4 MiB/s = 1/256 GiB/s.
	// extended: (168 - 24) h x 3,600 / 256 = 2,025 GiB x 0.10 = 202.5;
	// long-term: 552 x 3,600 / 256 = 7,762.5 GiB x 0.023 = 178.5375.
	near(t, "on-demand extended_retention", pl.OnDemand.ExtendedRetention, 202.5)
	near(t, "on-demand long_term_retention", pl.OnDemand.LongTermRetention, 178.5375)
}

func TestOnDemand(t *testing.T) {
	// The write-bound workload: 512 records/s of 8 KiB, one consumer, 24 h.
	// in: 512 x 8 KiB x 2,592,000 s / 1024^2 = 10,125 GiB a month.
	// stream_hours = 720 x 0.04 = 28.8; data_in = 10,125 x 0.08 = 810; data_out = 1 x 10,125 x 0.04 = 405.
	// total = 1,243.8.
	pl := plan(t, func(in *Input) { in.RecordsS, in.RecordKiB = 512, 8 })
	od := pl.OnDemand
	near(t, "stream_hours", od.StreamHours, 28.8)
	near(t, "data_in", od.DataIn, 810)
	near(t, "data_out", od.DataOut, 405)
	near(t, "total", od.Total, 1243.8)

	// On-demand rounds each record up to 1 KiB: 4,096 records/s of 0.5 KiB bill as
	// 4,096 KiB/s = 4 MiB/s, the same 10,125 GiB in, 810.
	pl = plan(t, func(in *Input) { in.RecordsS, in.RecordKiB = 4096, 0.5 })
	near(t, "data_in, half-KiB records", pl.OnDemand.DataIn, 810)
}

func TestHeadroom(t *testing.T) {
	// 4 MiB/s: headroom 0 recommends the minimum, 4; 0.5 recommends ceil(4 / 0.5) = 8.
	for h, want := range map[float64]int{0: 4, 0.2: 5, 0.5: 8} {
		pl := plan(t, func(in *Input) { in.RecordsS, in.RecordKiB, in.Headroom = 512, 8, h })
		if pl.RecommendedShards != want || pl.MinShards != 4 {
			t.Errorf("headroom %v: min %d recommended %d, want 4 and %d", h, pl.MinShards, pl.RecommendedShards, want)
		}
	}
	// A trickle still needs a shard: 1 record/s of 1 KiB.
	pl := plan(t, func(in *Input) { in.RecordsS, in.RecordKiB = 1, 1 })
	shards(t, pl, Limits{WriteMB: 1, WriteRecords: 1, Read: 1}, 1, 1)
}

func TestHotKey(t *testing.T) {
	// 4 MiB/s, 512 records/s: a key with 0.3 of the writes needs 1.2 MiB/s on one shard.
	pl := plan(t, func(in *Input) { in.RecordsS, in.RecordKiB, in.HotKeyShare = 512, 8, 0.3 })
	hasWarning(t, pl, "a key with 0.3 of the writes needs 1.2 MB/s and 153.6 records/s on one shard (limit 1 MB/s, 1000 records/s): no shard count fixes it; spread the key")
	// 0.2 of it is 0.8 MiB/s: the key fits one shard, but at the recommended 5
	// shards its shard also takes a fifth of the other 3.2 MiB/s:
	// 0.8 + 3.2/5 = 1.44 MiB/s, and 102.4 + 409.6/5 = 184.32 records/s.
	// Shards that keep it under 1 MiB/s: ceil(3.2 / (1 - 0.8)) = 16
	// (records: ceil(409.6 / (1000 - 102.4)) = 1).
	pl = plan(t, func(in *Input) { in.RecordsS, in.RecordKiB, in.HotKeyShare = 512, 8, 0.2 })
	hasWarning(t, pl, "a key with 0.2 of the writes makes a hot shard: at 5 shards the shard holding it takes 1.44 MB/s and 184.3 records/s (limit 1 MB/s, 1000 records/s); 16 shards keep it under the limit, or spread the key")
	// A key of exactly 1 MiB/s fills its shard: the rest of the writes cannot share it.
	pl = plan(t, func(in *Input) { in.RecordsS, in.RecordKiB, in.HotKeyShare = 512, 8, 0.25 })
	hasWarning(t, pl, "needs 1 MB/s and 128 records/s on one shard (limit 1 MB/s, 1000 records/s): no shard count fixes it")
	// 0.05 of it: 0.2 + 3.8/5 = 0.96 MiB/s: no hot shard.
	pl = plan(t, func(in *Input) { in.RecordsS, in.RecordKiB, in.HotKeyShare = 512, 8, 0.05 })
	if len(pl.Warnings) != 0 {
		t.Errorf("warnings: %q", pl.Warnings)
	}
}

func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		mod  func(*Input)
		want string
	}{
		{func(in *Input) { in.WriteMiBs = 1 }, "give two of write MB/s, records/s and record KB"},
		{func(in *Input) { in.WriteMiBs, in.RecordsS, in.RecordKiB = 2, 1000, 1 }, "disagrees"},
		{func(in *Input) { in.WriteMiBs, in.RecordsS = -1, 10 }, "want finite numbers >= 0"},
		{func(in *Input) { in.WriteMiBs, in.RecordsS, in.Headroom = 1, 10, 1 }, "headroom 1: want 0 <= headroom < 1"},
		{func(in *Input) { in.WriteMiBs, in.RecordsS, in.RetentionHours = 1, 10, 12 }, "retention 12 hours: want a whole number from 24 to 8760"},
		{func(in *Input) { in.WriteMiBs, in.RecordsS, in.RetentionHours = 1, 10, 36.5 }, "retention 36.5 hours: want a whole number"},
		{func(in *Input) { in.WriteMiBs, in.RecordsS, in.Consumers = 1, 10, -1 }, "consumers -1"},
		{func(in *Input) { in.WriteMiBs, in.RecordsS, in.HotKeyShare = 1, 10, 2 }, "hot key share 2"},
		{func(in *Input) { in.WriteMiBs, in.RecordsS, in.HoursPerMonth = 1, 10, 0 }, "hours per month 0"},
	} {
		in := DefaultInput()
		tc.mod(&in)
		if _, err := Compute(in, DefaultPrices()); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want %q", in, err, tc.want)
		}
	}
	// All three consistent within 1% is accepted.
	in := DefaultInput()
	in.WriteMiBs, in.RecordsS, in.RecordKiB = 2, 1000, 2.05
	if _, err := Compute(in, DefaultPrices()); err != nil {
		t.Error(err)
	}
}
