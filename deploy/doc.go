// Package deploy will hold what runs shardflow jobs in production: Terraform
// for the Kinesis streams, DynamoDB lease tables and S3 buckets a job uses, the
// container image and Kubernetes manifests, and the capacity and cost planner
// that sizes shards and workers from the Kinesis limits (1 MB/s or 1,000
// records/s in and 2 MB/s out per shard, 5 GetRecords calls/s, shard-hour and
// PUT-unit prices).
//
// It is empty today: the runtime, sources and sinks come first.
package deploy
