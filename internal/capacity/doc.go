// Package capacity sizes a Kinesis data stream and prices it.
//
// From an expected write rate (MiB/s and records/s, or one of them and the
// average record size), the number of consumers and whether they use enhanced
// fan-out (EFO), the retention and a share of spare capacity (headroom), Compute
// returns the shard count each Kinesis limit requires, the one that wins, the
// recommended count with headroom, a monthly cost breakdown in provisioned mode
// for the recommended count, the same workload in on-demand mode for
// comparison, and warnings.
//
// # Units
//
// KiB and MiB as Kinesis counts them: a KB is 1,024 bytes, an MB 1,024 KB and a
// GB 1,024 MB. A month is HoursPerMonth hours (720 by default: 24 x 30).
//
// # Shards each limit requires
//
//	write_mb      = ceil(write MiB/s / 1)            1 MiB/s in per shard
//	write_records = ceil(records/s / 1000)           1,000 records/s in per shard
//	read          = ceil(polling consumers x write MiB/s / 2)
//	                                                 2 MiB/s out per shard, shared by
//	                                                 every polling consumer; 0 with EFO
//	                                                 (each fan-out consumer has its own
//	                                                 2 MiB/s per shard)
//	min_shards    = max(write_mb, write_records, read, 1)
//
// The recommendation keeps a share h of every shard spare (Headroom, 0.2 by
// default), so the busiest limit runs at most at 1-h of capacity:
//
//	load               = max(write MiB/s, records/s / 1000, read MiB/s / 2)   in shards, not rounded
//	recommended_shards = max(ceil(load / (1 - h)), min_shards)
//
// # Monthly cost, provisioned mode, for recommended_shards (N) and H hours
//
//	shard_hours                 = N x H x shard_hour
//	put_payload_units           = records/s x ceil(record KiB / 25) x 3600 x H / 1e6 x put_payload_units_per_million
//	extended_retention          = N x H x extended_retention_shard_hour             when retention > 24 h
//	long_term_retention         = write GiB/s x 3600 x (retention - 168) x long_term_retention_gb_month
//	                                                                                  when retention > 168 h
//	efo_consumer_shard_hours    = EFO consumers x N x H x efo_consumer_shard_hour
//	efo_data_retrieval          = EFO consumers x write GiB/month x efo_data_retrieval_gb
//
// PUT payload units assume every record has the average size (a 30 KiB record
// is 2 units). Long-term retention is the data older than 7 days that the
// stream holds at any time, billed per GB-month.
//
// # On-demand mode, for comparison
//
// On-demand bills each record rounded up to the next KiB:
//
//	in GiB/month  = records/s x ceil(record KiB) x 3600 x H / 1024^2
//	stream_hours  = H x on_demand_stream_hour
//	data_in       = in GiB/month x on_demand_data_in_gb
//	data_out      = consumers x in GiB/month x on_demand_data_out_gb    (polling and EFO alike)
//	extended_retention  = in GiB/s x 3600 x (min(retention,168) - 24) x on_demand_extended_retention_gb_month
//	long_term_retention = in GiB/s x 3600 x (retention - 168) x long_term_retention_gb_month
//
// # Warnings
//
//   - More than 5 polling consumers: each makes at least one GetRecords call
//     per second on every shard, over the shard's 5 calls/s whatever the shard
//     count: use enhanced fan-out; the warning gives the fan-out plan's shards
//     and the monthly cost difference.
//   - Reads bind (read > the write limits): polling consumers share 2 MB/s per
//     shard; the warning gives the fan-out alternative and its cost difference.
//   - A hot key (HotKeyShare s): the key alone needs s x write rate on one
//     shard. Over 1 MiB/s or 1,000 records/s no shard count fixes it. Under,
//     the key's shard also takes its even share of the rest,
//     s x W + (1 - s) x W / N, and needs N >= (1 - s) x W / (1 - s x W) shards
//     (the same for records/s against 1,000).
//   - More than 20 fan-out consumers (a stream's limit); records over 1 MiB.
//
// # Prices
//
// DefaultPrices are us-east-1 list prices embedded from prices_us-east-1.json,
// with the date they were taken; LoadPrices reads a file that overrides any of
// them and refuses unknown keys and negative prices.
//
// The package makes no AWS call and does not import the AWS SDK; Sampler reads
// a running job's Prometheus /metrics to measure what is really written.
package capacity
